package catchall

// Forget drops the cached answer for the domain at host, here (a shared
// Store keeps what it was told): for an answer that turned out to be about
// the prober rather than the domain, such as a soft limit that made the
// host accept everyone from one egress for a while.
func (d *Detector) Forget(domain, host string) {
	d.mu.Lock()
	delete(d.cache, key{domain, host})
	d.mu.Unlock()
}
