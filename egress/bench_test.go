package egress

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkSession is one session's bookkeeping through the router (Route,
// a Take per RCPT batch, Success, Release) over four egresses and 1,000
// servers; BenchmarkSessionBaseline is the budget alone (Acquire, Take,
// release), the least any egress layer has to do.
func BenchmarkSession(b *testing.B) {
	var es []Egress
	for i := range 4 {
		es = append(es, Egress{Name: "e" + strconv.Itoa(i)})
	}
	r, err := NewRouter(es, &Health{}, &Budgets{Profiles: unlimited(b)})
	if err != nil {
		b.Fatal(err)
	}
	servers := make([]string, 1000)
	for i := range servers {
		servers[i] = "192.0.2." + strconv.Itoa(i%250) + ":" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		l, err := r.Route("google", servers[i%len(servers)])
		if err != nil {
			b.Fatal(err)
		}
		l.Take(10)
		l.Success()
		l.Release()
	}
}

func BenchmarkSessionBaseline(b *testing.B) {
	bu := &Budgets{Profiles: unlimited(b)}
	k := Key{Egress: "e0", Provider: "google"}
	b.ReportAllocs()
	for b.Loop() {
		rel, err := bu.Acquire(k)
		if err != nil {
			b.Fatal(err)
		}
		bu.Take(k, 10)
		rel()
	}
}

func unlimited(b *testing.B) *Profiles {
	p, err := ParseProfiles(strings.NewReader(`{"profiles":[{"provider":"default","per_minute":1000000000,"per_hour":1000000000,"per_day":1000000000,"sources":{"per_minute":"b","per_hour":"b","per_day":"b"}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkClassify reads a mix of egress and mailbox replies.
func BenchmarkClassify(b *testing.B) {
	reps := make([]Reply, len(classifyRows))
	for i, row := range classifyRows {
		reps[i] = parseRow(row.stage, row.reply)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Classify(reps[i%len(reps)])
	}
}
