// Package jobs runs bulk verification jobs on NATS JetStream: the
// streams, the scheduler that routes each address to the partition of its
// mail server, the workers that own partitions, and the aggregator that
// keeps every job's counts. Package api puts HTTP in front of it.
//
// The streams and buckets, all created by Open:
//
//	MV_STAGE    a job's addresses in chunks as uploaded, subject
//	            mv.stage.<job>.<n>; a chunk is deleted once routed
//	MV_INPUT    work queue of submitted jobs: one message a job, published
//	            once every chunk is staged (so that an upload cut short
//	            never reaches the scheduler)
//	MV_WORK     work queue of tasks, subject mv.work.<partition>, or
//	            mv.work.<provider>.<slot> for an identified provider's
//	            mail servers, or mv.work.s<hash>.0 for an unidentified
//	            server whose work was moved off a worker it refused
//	            (serverroute.go); one durable consumer per partition,
//	            pinned to one worker
//	KV mv_workers  each worker's egresses (see Declaration)
//	KV mv_egress   egress health per (egress, provider), cluster-wide
//	KV mv_budgets  egress budgets per (egress, provider), cluster-wide
//	            (both opened by NewEgressStore)
//	MV_RESULTS  results, subject mv.result.<job>.b<block>, 256 entries a
//	            block, each counted and read once (layout.go)
//	MV_DEAD     tasks that no worker finished in MaxDeliver deliveries
//	KV mv_jobs  job records; KV mv_idem  idempotency keys;
//	KV mv_state the aggregator's position in MV_RESULTS
package jobs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of the streams, buckets and consumers.
const (
	InputStream   = "MV_INPUT"
	StageStream   = "MV_STAGE"
	WorkStream    = "MV_WORK"
	ResultsStream = "MV_RESULTS"
	DeadStream    = "MV_DEAD"
	JobsBucket    = "mv_jobs"
	IdemBucket    = "mv_idem"
	StateBucket   = "mv_state"

	schedulerConsumer = "scheduler"
	priorityGroup     = "owners"
)

// Config says where the bus is and how it is laid out.
type Config struct {
	// URL of a NATS cluster; empty starts an embedded server with
	// JetStream storing under DataDir, reachable only in-process.
	URL     string
	DataDir string
	// Replicas of every stream (3 in a 3-node cluster); zero means 1.
	Replicas int
	// Partitions of the work; zero means 32. Changing it on an existing
	// bus re-routes new tasks only.
	Partitions int
	// Retention is how long jobs and results are kept (addresses are
	// personal data); zero means 72 hours.
	Retention time.Duration
	// PinnedTTL is how soon a partition moves to another worker when its
	// owner stops asking for work; zero means 10 seconds, and less than 2
	// seconds is taken as 2 (workers renew their claim every third of it).
	PinnedTTL time.Duration
	// MaxDeliver bounds the deliveries of a task, greylisting retries
	// included; zero means 10.
	MaxDeliver int
	// MaxAckPending bounds the tasks of one partition in flight at its
	// owner; zero means 256.
	MaxAckPending int
	// AckWait is how long a task may go unacknowledged before it is
	// redelivered; workers report progress every third of it. Zero means
	// 30 seconds.
	AckWait time.Duration
}

func (c Config) partitions() int          { return orDefault(c.Partitions, 32) }
func (c Config) replicas() int            { return orDefault(c.Replicas, 1) }
func (c Config) maxDeliver() int          { return orDefault(c.MaxDeliver, 10) }
func (c Config) maxAckPending() int       { return orDefault(c.MaxAckPending, 256) }
func (c Config) retention() time.Duration { return orDefault(c.Retention, 72*time.Hour) }
func (c Config) pinnedTTL() time.Duration {
	return max(orDefault(c.PinnedTTL, 10*time.Second), 2*time.Second)
}

// pullExpiry is how long a worker's pull request lasts. The server keeps a
// partition pinned to a worker only while it sends pull requests within
// PinnedTTL; with the client's default of 30s, a busy worker that asked
// for nothing new would lose its partitions while still working on them,
// and two workers would then talk to the same mail servers.
func (c Config) pullExpiry() time.Duration { return max(c.pinnedTTL()/3, time.Second) }
func (c Config) ackWait() time.Duration    { return orDefault(c.AckWait, 30*time.Second) }

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// A Bus is a connection to JetStream with the project's streams in place.
type Bus struct {
	Config
	NC   *nats.Conn
	JS   jetstream.JetStream
	Jobs jetstream.KeyValue
	Idem jetstream.KeyValue
	// State holds the service's own positions (the aggregator's); it
	// does not expire.
	State jetstream.KeyValue

	embedded *server.Server
	// Disk watches the embedded server's disk; nil with a cluster (whose
	// servers refuse writes past their limits themselves).
	Disk *DiskGuard

	// instance names this process's Bus; started is when it opened.
	instance string
	started  time.Time
	waits    jetstream.KeyValue // greywait.go
	stopDisk context.CancelFunc
	ownersKV jetstream.KeyValue
	stage    jetstream.Stream
	made     sync.Map // names of the provider partitions' consumers made
}

// Open connects to the bus the config names, starting the embedded server
// when it names none, and creates or updates the streams.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	b := &Bus{Config: cfg, instance: newID(), started: time.Now()}
	var opts []nats.Option
	opts = append(opts, nats.Name("mailverify"), nats.MaxReconnects(-1))
	url := cfg.URL
	if url == "" {
		ns, err := startEmbedded(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		b.embedded = ns
		b.watchDisk()
		opts = append(opts, nats.InProcessServer(ns))
		url = ns.ClientURL()
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("service: connect to NATS: %w", err)
	}
	b.NC = nc
	if b.JS, err = jetstream.New(nc); err != nil {
		b.Close()
		return nil, err
	}
	// A cluster that is still electing its leaders refuses for a while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := b.setup(ctx)
		if err == nil && b.embedded != nil {
			// No upload of an earlier run can still be going on.
			err = b.SweepUploads(ctx, 0)
		}
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			b.Close()
			return nil, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func startEmbedded(dir string) (*server.Server, error) {
	if dir == "" {
		return nil, errors.New("service: an embedded server needs a data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: "mailverify", DontListen: true, JetStream: true,
		StoreDir: filepath.Join(dir, "jetstream"), NoSigs: true, NoLog: true,
	})
	if err != nil {
		return nil, fmt.Errorf("service: embedded NATS: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("service: the embedded NATS server did not start")
	}
	return ns, nil
}

// Close drains the connection (for up to 10 seconds) and stops the
// embedded server, if any.
func (b *Bus) Close() {
	if b.stopDisk != nil {
		b.stopDisk()
	}
	if b.NC != nil {
		_ = b.NC.Drain()
		for deadline := time.Now().Add(10 * time.Second); b.NC.IsDraining() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		b.NC.Close()
	}
	if b.embedded != nil {
		b.embedded.Shutdown()
		b.embedded.WaitForShutdown()
	}
}

func (b *Bus) setup(ctx context.Context) error {
	r := b.replicas()
	streams := []jetstream.StreamConfig{
		{Name: InputStream, Subjects: []string{"mv.input.>"}, Retention: jetstream.WorkQueuePolicy,
			MaxAge: b.retention(), Replicas: r, Duplicates: 10 * time.Minute},
		{Name: StageStream, Subjects: []string{"mv.stage.>"}, MaxAge: b.retention(), Replicas: r,
			MaxMsgsPerSubject: 1}, // a chunk a subject; see blockSizing
		{Name: WorkStream, Subjects: []string{"mv.work.*", "mv.work.*.*"}, Retention: jetstream.WorkQueuePolicy,
			MaxAge: b.retention(), Replicas: r, Duplicates: 10 * time.Minute},
		{Name: ResultsStream, Subjects: []string{"mv.result.*.*"}, MaxAge: b.retention(), Replicas: r,
			Duplicates: 10 * time.Minute, Compression: jetstream.S2Compression, MaxMsgsPerSubject: noPerSubjectLimit},
		{Name: DeadStream, Subjects: []string{"mv.dead.*"}, MaxAge: b.retention(), Replicas: r},
	}
	for _, sc := range streams {
		sc.AllowDirect = sc.Name == ResultsStream // for ResultsBatch
		if _, err := b.JS.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("service: stream %s: %w", sc.Name, err)
		}
	}
	var err error
	if b.stage, err = b.JS.Stream(ctx, StageStream); err != nil {
		return err
	}
	if b.Jobs, err = b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: JobsBucket, TTL: b.retention(), Replicas: r, History: 1}); err != nil {
		return fmt.Errorf("service: bucket %s: %w", JobsBucket, err)
	}
	if b.Idem, err = b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: IdemBucket, TTL: b.retention(), Replicas: r, History: 1}); err != nil {
		return fmt.Errorf("service: bucket %s: %w", IdemBucket, err)
	}
	if b.State, err = b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket, Replicas: r, History: 1}); err != nil {
		return fmt.Errorf("service: bucket %s: %w", StateBucket, err)
	}
	if err = b.setupWaits(ctx); err != nil { // greywait.go
		return fmt.Errorf("service: bucket %s: %w", WaitsBucket, err)
	}
	if b.ownersKV, err = b.owners(ctx); err != nil {
		return fmt.Errorf("service: bucket %s: %w", OwnersBucket, err)
	}
	for p := range b.partitions() {
		c := b.pinned(jetstream.ConsumerConfig{Durable: partitionConsumer(p), FilterSubject: workSubject(p),
			MaxAckPending: b.maxAckPending(), MaxDeliver: b.maxDeliver(), AckWait: b.ackWait()})
		if _, err := b.JS.CreateOrUpdateConsumer(ctx, WorkStream, c); err != nil {
			return fmt.Errorf("service: consumer %s: %w", c.Durable, err)
		}
	}
	sched := jetstream.ConsumerConfig{Durable: schedulerConsumer, AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 2 * b.ackWait(), MaxAckPending: 16, Replicas: r}
	if _, err := b.JS.CreateOrUpdateConsumer(ctx, InputStream, sched); err != nil {
		return fmt.Errorf("service: consumer %s: %w", sched.Durable, err)
	}
	return nil
}

// blockSizing: the embedded server keeps each file block of a stream it
// writes or reads in memory, for 10 s after the last use, and sizes the
// blocks from the stream's limits: 8 MB for a stream with none, 4 MB for
// one with a limit of messages per subject (as buckets have). MV_STAGE
// and MV_RESULTS, the two streams a large job writes and reads the most,
// take such a limit to halve what each block holds in memory: MV_STAGE
// has one chunk a subject anyway, and MV_RESULTS one a limit no subject
// reaches (a block subject holds 256 entries and each entry at most a
// result a delivery and a dead letter, layout.go), so nothing is ever
// discarded by it.
const noPerSubjectLimit = 1 << 30

func partitionConsumer(p int) string { return fmt.Sprintf("part-%d", p) }
func workSubject(p int) string       { return fmt.Sprintf("mv.work.%d", p) }
func inputSubject(job string) string { return "mv.input." + job }
