package disposable

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// lookups are the domains each lookup benchmark asks for: listed,
// listed through a parent, and absent.
var lookups = []string{"mailinator.com", "x.y.mailinator.com", "gmail.com", "mail.example.co.uk", "yopmail.com", "company.de"}

// walk calls has for d and each parent of d, and reports whether any call
// reported true.
func walk(d string, has func(string) bool) bool {
	for {
		if has(d) {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
}

// mapList is the baseline: a map with the same parent walk.
type mapList map[string]struct{}

func (m mapList) Contains(domain string) bool {
	d, ok := normalize(domain)
	if !ok {
		return false
	}
	return walk(d, func(s string) bool { _, ok := m[s]; return ok })
}

// plainMap is the baseline: a map and a walk with
// strings.IndexByte, without normalizing the input.
type plainMap map[string]struct{}

func (m plainMap) Contains(d string) bool {
	for {
		if _, ok := m[d]; ok {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
}

func heapOf(build func() any) (any, uint64) {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&b)
	return v, b.HeapAlloc - a.HeapAlloc
}

// BenchmarkLookup compares Set with a map[string]struct{} built from the
// same embedded list in the same run; both walk parent domains. The
// heap-bytes metric is what each structure holds.
//
//	go test -run '^$' -bench . -benchmem ./disposable
func BenchmarkLookup(b *testing.B) {
	setV, setHeap := heapOf(func() any { return build(strings.Clone(disposableTxt), "set") })
	mapV, mapHeap := heapOf(func() any {
		m := mapList{}
		for l := range strings.SplitSeq(disposableTxt, "\n") {
			if l != "" {
				m[strings.Clone(l)] = struct{}{}
			}
		}
		return m
	})
	for _, c := range []struct {
		name string
		list interface{ Contains(string) bool }
		heap uint64
	}{{"Set", setV.(*Set), setHeap}, {"Map", mapV.(mapList), mapHeap}, {"PlainMap", plainMap(mapV.(mapList)), mapHeap}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.list.Contains(lookups[i%len(lookups)])
				i++
			}
			b.ReportMetric(float64(c.heap), "heap-bytes")
			if s, ok := c.list.(*Set); ok {
				// The embedded list's text stays in the binary's read-only
				// data; only the index is on the heap.
				b.ReportMetric(float64(4*cap(s.offs)+4*cap(s.slots)), "index-bytes")
			}
		})
	}
}

// BenchmarkLookupScaling grows the list to show lookups stay flat.
func BenchmarkLookupScaling(b *testing.B) {
	for _, n := range []int{1000, 10000, 60000} {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, "d%d.example.com\n", i)
		}
		s := build(sb.String(), "scaling")
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			for b.Loop() {
				s.Contains("d7.example.com")
				s.Contains("absent.example.net")
			}
		})
	}
}

// BenchmarkDefaultBuild is the cost of the first lookup of Default: the
// index over the embedded list is built then.
func BenchmarkDefaultBuild(b *testing.B) {
	for b.Loop() {
		build(disposableTxt, "embedded")
	}
}
