package smtpprobe

import (
	"strconv"
	"strings"
	"time"
)

// RetryDelay returns the wait a temporary reply states in its text, such
// as "try again in 5 minutes", "greylisted for 300 seconds" or "retry
// after 60s", and reports whether it states one. Only a number right after
// "in", "for", "after" or "wait" and followed by a unit counts; delays
// beyond a day are not believed.
func RetryDelay(r Reply) (time.Duration, bool) {
	if r.Code/100 != 4 {
		return 0, false
	}
	words := strings.FieldsFunc(strings.ToLower(r.Text()), func(c rune) bool {
		return c == ' ' || c == ',' || c == ';' || c == '(' || c == ')' || c == '.' || c == ':'
	})
	for i := 1; i < len(words); i++ {
		switch words[i-1] {
		case "in", "for", "after", "wait":
		default:
			continue
		}
		num, unit := splitNumber(words[i])
		if unit == "" && i+1 < len(words) {
			unit = words[i+1]
		}
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 {
			continue
		}
		if u, ok := units[unit]; ok && time.Duration(n)*u <= 24*time.Hour {
			return time.Duration(n) * u, true
		}
	}
	return 0, false
}

var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
}

// splitNumber splits "60s" into "60" and "s".
func splitNumber(w string) (num, unit string) {
	i := 0
	for i < len(w) && w[i] >= '0' && w[i] <= '9' {
		i++
	}
	return w[:i], w[i:]
}
