package service

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
)

func idemKey(owner, key string) string {
	h := sha256.Sum256([]byte(owner + "\x00" + key))
	return hex.EncodeToString(h[:])
}

func sortJobs(js []Job) {
	slices.SortFunc(js, func(a, b Job) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// partition maps a politeness key to a partition.
func partition(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func logOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
