package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailverify/mailverify/diagnose"
	"github.com/mailverify/mailverify/service"
	"github.com/mailverify/mailverify/verify"
)

// serviceFlags are the flags of serve and worker.
type serviceFlags struct {
	common
	eg                          egressFlags // egress.go: the worker's egresses
	nats, data                  string
	replicas, partitions        int
	concurrency, perHost, rcpts int
	perHostRate                 float64
	retention, greyBudget       time.Duration
	ackWait, pinnedTTL          time.Duration
	verbose                     bool
	memLimit                    memoryLimit // memlimit.go
}

func (f *serviceFlags) register(fs *flag.FlagSet) {
	f.common.register(fs)
	f.eg.register(fs)
	fs.StringVar(&f.nats, "nats", "", "`URL` of a NATS cluster with JetStream (default: an embedded server storing under --data)")
	fs.StringVar(&f.data, "data", defaultDataDir(), "`directory` of the embedded NATS server's store")
	fs.IntVar(&f.replicas, "replicas", 1, "replicas of each stream (3 in a 3-node cluster)")
	fs.IntVar(&f.partitions, "partitions", 32, "partitions of the work, each owned by one worker at a time")
	fs.IntVar(&f.concurrency, "concurrency", 16, "SMTP sessions at once per worker")
	fs.IntVar(&f.perHost, "per-host", 2, "SMTP sessions at once per mail server")
	fs.Float64Var(&f.perHostRate, "rate", 10, "RCPT commands per second per mail server")
	fs.IntVar(&f.rcpts, "rcpts", 20, "recipients per SMTP transaction")
	fs.DurationVar(&f.retention, "retention", 72*time.Hour, "how long jobs and their results are kept (addresses are personal data)")
	fs.DurationVar(&f.greyBudget, "greylist-budget", 30*time.Minute, "how long after an address was queued greylisting is still waited out")
	fs.DurationVar(&f.ackWait, "ack-wait", 30*time.Second, "how long a task may go unacknowledged (its worker died) before it is delivered again")
	fs.DurationVar(&f.pinnedTTL, "pinned-ttl", 10*time.Second, "how soon a partition moves to another worker when its owner stops asking for work")
	fs.BoolVar(&f.verbose, "v", false, "log the service's steps to stderr")
	fs.Var(&f.memLimit, "memory-limit", "soft limit on the process's memory (`size`: 256MiB, 1GiB, bytes; at least 16MiB); 0 for none (default: GOMEMLIMIT if set, else 112MiB)")
}

// defaultDataDir is a per-user state directory.
func defaultDataDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "mailverify")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "mailverify")
	}
	return filepath.Join(os.TempDir(), "mailverify")
}

// config is the service's configuration from the flags.
func (f *serviceFlags) config(logger *slog.Logger) (service.Config, error) {
	if f.history != "" {
		return service.Config{}, errors.New("--history is the check command's: the service keeps its history on the bus (POST /v1/feedback)")
	}
	return service.Config{NATS: f.nats, DataDir: f.data, Replicas: f.replicas, Partitions: f.partitions, Retention: f.retention,
		AckWait: f.ackWait, PinnedTTL: f.pinnedTTL, GreylistBudget: f.greyBudget, Logger: logger,
		NewVerifier: func() (*verify.Verifier, error) {
			v, err := f.verifier()
			if err != nil {
				return nil, err
			}
			v.Concurrency, v.PerHost, v.PerHostRate, v.MaxRcpts = f.concurrency, f.perHost, f.perHostRate, f.rcpts
			if err := f.eg.apply(v, f.socks5, os.Stderr); err != nil {
				return nil, err
			}
			if f.verbose {
				v.Logger = logger
			}
			return v, nil
		}}, nil
}

func (f *serviceFlags) logger(stderr io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

type serveFlags struct {
	serviceFlags
	listen, tokenFile, secretFile string
	hosts                         string
	webhookPrivate, offline       bool
	maxBody                       int64
	reqRate                       float64
	worker                        bool
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailverify serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	f.register(fs)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8025", "HTTP API `address`")
	fs.StringVar(&f.tokenFile, "token-file", "", "`file` of bearer tokens, one per line; required unless --listen is loopback")
	fs.StringVar(&f.secretFile, "webhook-secret-file", "", "`file` holding the secret that signs webhooks (whsec_...)")
	fs.StringVar(&f.hosts, "host", "", "comma-separated `names` the API answers to besides IP addresses and localhost (the Host header; \"*\" for any)")
	fs.Int64Var(&f.maxBody, "max-body", 64<<20, "largest job upload in bytes")
	fs.Float64Var(&f.reqRate, "request-rate", 20, "requests per second per token that start work (0: no limit)")
	fs.BoolVar(&f.webhookPrivate, "webhook-allow-private", false, "permit webhooks to loopback and private addresses (--allow-private is for mail hosts)")
	fs.BoolVar(&f.offline, "offline", false, "syntax and lists only: no DNS, no SMTP (as the check command's --offline)")
	fs.BoolVar(&f.worker, "worker", false, "with --nats: also run a worker in this process (always on when embedded)")
	if code, ok := parseNoArgs(fs, args, stderr, "serve [flags]\n\nRuns the HTTP API and the job scheduler; without --nats, an embedded NATS server and a worker too."); !ok {
		return code
	}
	cfg, err := f.config(f.logger(stderr))
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	cfg.Worker, cfg.RequestRate, cfg.MaxBody, cfg.AllowPrivate = f.worker, f.reqRate, f.maxBody, f.webhookPrivate
	if f.reqRate == 0 {
		cfg.RequestRate = -1 // off
	}
	if f.offline {
		mk := cfg.NewVerifier
		cfg.NewVerifier = func() (*verify.Verifier, error) {
			v, err := mk()
			if v != nil {
				v.Offline = true
			}
			return v, err
		}
	}
	cfg.Diagnose = f.diagnoser()
	for h := range strings.SplitSeq(f.hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Hosts = append(cfg.Hosts, h)
		}
	}
	cfg.Doctor = f.doctor()
	if f.dns != "" {
		cfg.WebhookDNS = withPort(f.dns)
	}
	if cfg.Tokens, err = readTokens(f.tokenFile); err != nil {
		return usageError(stderr, "%v", err)
	}
	if cfg.Tokens == nil && !loopback(f.listen) {
		return usageError(stderr, "--listen %s is not a loopback address: give --token-file", f.listen)
	}
	if f.secretFile != "" {
		secret, err := os.ReadFile(f.secretFile)
		if err != nil {
			return usageError(stderr, "%v", err)
		}
		cfg.WebhookSecret = []byte(strings.TrimSpace(string(secret)))
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	f.memLimit.apply()
	s, err := service.New(ctx, cfg)
	if errors.Is(err, service.ErrConfig) {
		ln.Close()
		return usageError(stderr, "%v", err)
	}
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
		return exitIO
	}
	if f.secretFile == "" {
		fmt.Fprintln(stderr, "mailverify: webhooks are signed with a secret made for each token; read yours at GET /v1/webhook-secret")
	}
	return runServer(ctx, ln, s, stderr)
}

// stopBound is the longest a shutdown takes.
const stopBound = 28 * time.Second

// runServer serves until ctx ends, then shuts down in order: stop taking
// requests and finish those in flight, then let the workers drain, then
// close s.
func runServer(ctx context.Context, ln net.Listener, s *service.Service, stderr io.Writer) int {
	nodeCtx, stopNode := context.WithCancel(context.WithoutCancel(ctx))
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- s.Run(nodeCtx) }()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stderr, "mailverify: serving http://%s/ (%s); open it in a browser to check addresses and clean lists\n", ln.Addr(), s)
	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
		code = exitIO
	}
	// Whatever hangs (a store that cannot write), the process ends within
	// stopBound of the signal.
	watchdog := time.AfterFunc(stopBound, func() {
		fmt.Fprintf(stderr, "mailverify: not stopped after %v; exiting\n", stopBound)
		os.Exit(exitIO)
	})
	defer watchdog.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	stopNode()
	if err := <-nodeDone; err != nil {
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
	}
	s.Close()
	return code
}

func worker(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailverify worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serviceFlags
	f.register(fs)
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on `address` (/metrics)")
	if code, ok := parseNoArgs(fs, args, stderr, "worker --nats URL [flags]\n\nProbes mail servers for the partitions the cluster pins to it; run one per egress address."); !ok {
		return code
	}
	if f.nats == "" {
		return usageError(stderr, "worker needs --nats URL (an embedded server is reachable only from serve)")
	}
	cfg, err := f.config(f.logger(stderr))
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	f.memLimit.apply()
	w, err := service.NewWorker(ctx, cfg)
	if errors.Is(err, service.ErrConfig) {
		return usageError(stderr, "%v", err)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
		return exitIO
	}
	defer w.Close()
	if *metricsAddr != "" {
		ln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return usageError(stderr, "--metrics: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", w.MetricsHandler())
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
	}
	fmt.Fprintf(stderr, "mailverify: worker on %s\n", w)
	for _, line := range declared(w.Egresses()) {
		fmt.Fprintln(stderr, "mailverify: "+line)
	}
	if err := w.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "mailverify: %v\n", err)
		return exitIO
	}
	return exitOK
}

// parseNoArgs parses the flags of a subcommand that takes no arguments,
// with usage as its help; ok is false when the command is to exit with code.
func parseNoArgs(fs *flag.FlagSet, args []string, stderr io.Writer, usage string) (code int, ok bool) {
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailverify "+usage)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return exitConfig, false
	}
	if len(rest) > 0 {
		name, _, _ := strings.Cut(usage, " ")
		return usageError(stderr, "%s takes no arguments; got %q", name, rest), false
	}
	return 0, true
}

// diagnoser runs diagnose with the service's DNS, dialer and identity.
func (f *serviceFlags) diagnoser() func(context.Context, string) (*diagnose.Report, error) {
	return func(ctx context.Context, domain string) (*diagnose.Report, error) {
		dialer, err := f.dialer()
		if err != nil {
			return nil, err
		}
		cfg := diagnose.Config{Dialer: dialer, Port: f.port, HELO: f.helo, MailFrom: f.from, AllowPrivate: f.allowPrivate}
		if f.dns != "" {
			cfg.DNS = []string{withPort(f.dns)}
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		return (&diagnose.Checker{Config: cfg}).Check(ctx, domain)
	}
}

func readTokens(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := service.ReadTokens(f)
	if err != nil {
		return nil, fmt.Errorf("--token-file %s: %w", path, err)
	}
	return t, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
