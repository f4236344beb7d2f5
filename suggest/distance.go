package suggest

// qwerty lists each key's neighbours on a QWERTY keyboard.
var qwerty = map[byte]string{
	'q': "wa", 'w': "qesa", 'e': "wrds", 'r': "etfd", 't': "ryfg", 'y': "tugh", 'u': "yihj",
	'i': "uojk", 'o': "ipkl", 'p': "ol", 'a': "qwsz", 's': "awedxz", 'd': "serfcx",
	'f': "drtgvc", 'g': "ftyhbv", 'h': "gyujnb", 'j': "huikmn", 'k': "jiolm", 'l': "kop",
	'z': "asx", 'x': "zsdc", 'c': "xdfv", 'v': "cfgb", 'b': "vghn", 'n': "bhjm", 'm': "njk",
}

// neighbours[c] has bit n set when letter 'a'+n is next to letter c.
var neighbours = func() (t [256]uint32) {
	for k, ns := range qwerty {
		for i := 0; i < len(ns); i++ {
			t[k] |= 1 << (ns[i] - 'a')
		}
	}
	return t
}()

func adjacent(a, b byte) bool {
	return b >= 'a' && b <= 'z' && neighbours[a]&(1<<(b-'a')) != 0
}

// maxLen bounds the names compared; longer ones are never close enough.
const maxLen = 32

// distance is the optimal-string-alignment Damerau-Levenshtein distance
// between a and b in half edits: insertions, deletions, transpositions of
// neighbours and substitutions cost 2, a substitution by an adjacent key
// costs 1. It returns limit+1 as soon as the distance must exceed limit,
// and allocates nothing.
func distance(a, b string, limit int) int {
	if len(a) > maxLen || len(b) > maxLen {
		return limit + 1
	}
	if d := len(a) - len(b); 2*d > limit || -2*d > limit {
		return limit + 1
	}
	var rows [3][maxLen + 1]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = 2 * j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = 2 * i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			sub := 0
			if a[i-1] != b[j-1] {
				sub = 2
				if adjacent(a[i-1], b[j-1]) {
					sub = 1
				}
			}
			v := min(prev[j]+2, cur[j-1]+2, prev[j-1]+sub)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+2)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit+1)
}
