package egress

import "container/list"

// StickyLimit bounds the (provider, server) pairs a Router remembers the
// egress of. A long-running service meets servers without end; past the
// limit, the pair used least recently is forgotten. Forgetting loses only
// a preference: the pair's next session goes to the allowed egress with
// the fewest sessions in use (the same one, often) and sticks there.
// Soundness does not rest on stickiness: a catch-all answer asked through
// one egress is checked on every flush by the engine's canary, whatever
// egress the session runs on.
const StickyLimit = 1 << 14

// stickyMap is the router's (provider key, server) → egress index map,
// bounded by limit with least-recently-used eviction. Not safe for
// concurrent use: the Router's mutex guards it.
type stickyMap struct {
	limit int
	m     map[[2]string]*list.Element
	order list.List // most recently used at the front
}

type stickyEntry struct {
	key    [2]string
	egress int
}

func newStickyMap(limit int) *stickyMap {
	return &stickyMap{limit: limit, m: map[[2]string]*list.Element{}}
}

// get returns k's egress and marks k used.
func (s *stickyMap) get(k [2]string) (int, bool) {
	e, ok := s.m[k]
	if !ok {
		return 0, false
	}
	s.order.MoveToFront(e)
	return e.Value.(*stickyEntry).egress, true
}

// put sets k's egress, forgetting the least recently used pair when the
// map is over its limit.
func (s *stickyMap) put(k [2]string, egress int) {
	if e, ok := s.m[k]; ok {
		e.Value.(*stickyEntry).egress = egress
		s.order.MoveToFront(e)
		return
	}
	s.m[k] = s.order.PushFront(&stickyEntry{key: k, egress: egress})
	for s.limit > 0 && s.order.Len() > s.limit {
		old := s.order.Back()
		s.order.Remove(old)
		delete(s.m, old.Value.(*stickyEntry).key)
	}
}

func (s *stickyMap) len() int { return s.order.Len() }
