package syntax

import "unicode/utf8"

// Punycode (RFC 3492) over fixed buffers, for the fast path: decoding and
// encoding one label allocate nothing. The general path keeps using
// x/net/idna; FuzzParse checks that both accept the same labels the same
// way.

// RFC 3492 section 5: the parameters for IDNA.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
	pcMaxInt      = 1<<31 - 1 // the deltas stay within 32 bits, as RFC 3492 section 6.4 asks
)

// pcAdapt is the bias adaptation of RFC 3492 section 6.1.
func pcAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > (pcBase-pcTMin)*pcTMax/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// pcThreshold is t(k) of RFC 3492 section 6.2.
func pcThreshold(k, bias int) int {
	switch {
	case k <= bias:
		return pcTMin
	case k >= bias+pcTMax:
		return pcTMax
	}
	return k - bias
}

func pcDigit(c byte) (int, bool) {
	switch {
	case 'a' <= c && c <= 'z':
		return int(c - 'a'), true
	case '0' <= c && c <= '9':
		return int(c-'0') + 26, true
	}
	return 0, false // upper case is lowered before
}

// punyDecode decodes the lower-case Punycode s (an A-label without its
// "xn--") into out and returns the code points written. It reports false
// for anything malformed, too long for out, or overflowing.
func punyDecode(s string, out []rune) (int, bool) {
	n, bias, i, k := pcInitialN, pcInitialBias, 0, 0
	b := -1
	for j := len(s) - 1; j >= 0; j-- {
		if s[j] == '-' {
			b = j
			break
		}
	}
	if b == 0 {
		return 0, false // a delimiter with no basic code points before it
	}
	if b > 0 {
		if b > len(out) {
			return 0, false
		}
		for j := range b {
			out[k] = rune(s[j])
			k++
		}
	}
	for p := b + 1; p < len(s); {
		old, w := i, 1
		for kk := pcBase; ; kk += pcBase {
			if p == len(s) {
				return 0, false
			}
			d, ok := pcDigit(s[p])
			p++
			if !ok || d > (pcMaxInt-i)/w {
				return 0, false
			}
			i += d * w
			t := pcThreshold(kk, bias)
			if d < t {
				break
			}
			if w > pcMaxInt/(pcBase-t) {
				return 0, false
			}
			w *= pcBase - t
		}
		if k == len(out) {
			return 0, false
		}
		bias = pcAdapt(i-old, k+1, old == 0)
		n += i / (k + 1)
		i %= k + 1
		if n > utf8.MaxRune || n >= 0xD800 && n <= 0xDFFF {
			return 0, false
		}
		copy(out[i+1:k+1], out[i:k])
		out[i] = rune(n)
		k++
		i++
	}
	return k, true
}

// punyEncode encodes the code points in into out, without "xn--", and
// returns the bytes written; false when out is too small.
func punyEncode(in []rune, out []byte) (int, bool) {
	k := 0
	for _, r := range in {
		if r < utf8.RuneSelf {
			if k == len(out) {
				return 0, false
			}
			out[k] = byte(r)
			k++
		}
	}
	basic := k
	if basic > 0 {
		if k == len(out) {
			return 0, false
		}
		out[k] = '-'
		k++
	}
	n, bias, delta, h := pcInitialN, pcInitialBias, 0, basic
	for h < len(in) {
		m := int(utf8.MaxRune) + 1
		for _, r := range in {
			if int(r) >= n && int(r) < m {
				m = int(r)
			}
		}
		if m-n > (pcMaxInt-delta)/(h+1) {
			return 0, false
		}
		delta += (m - n) * (h + 1)
		n = m
		for _, r := range in {
			if int(r) < n {
				delta++
				continue
			}
			if int(r) > n {
				continue
			}
			q := delta
			for kk := pcBase; ; kk += pcBase {
				t := pcThreshold(kk, bias)
				if q < t {
					break
				}
				if k == len(out) {
					return 0, false
				}
				out[k] = pcDigitByte(t + (q-t)%(pcBase-t))
				k++
				q = (q - t) / (pcBase - t)
			}
			if k == len(out) {
				return 0, false
			}
			out[k] = pcDigitByte(q)
			k++
			bias = pcAdapt(delta, h+1, h == basic)
			delta = 0
			h++
		}
		delta++
		n++
	}
	return k, true
}

func pcDigitByte(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}
