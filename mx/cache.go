package mx

import (
	"container/list"
	"sync"
	"time"
)

// cache is a bounded LRU of lookup results, each kept until its expiry.
// It is safe for concurrent use.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element
	order   list.List // front: most recently used
}

type cacheEntry struct {
	key     string
	result  Result
	expires time.Time
}

func newCache(max int) *cache {
	return &cache{max: max, entries: make(map[string]*list.Element)}
}

func (c *cache) get(key string, now time.Time) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return Result{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return Result{}, false
	}
	c.order.MoveToFront(el)
	return e.result, true
}

func (c *cache) put(key string, r Result, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		e.result, e.expires = r, expires
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, result: r, expires: expires})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}
