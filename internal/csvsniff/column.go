package csvsniff

import (
	"fmt"
	"strconv"
	"strings"
)

// headerNames are the headers of an address column, best first.
var headerNames = []string{"email", "e-mail", "email address", "e-mail address", "e-mail-adresse", "emailadresse",
	"mail", "courriel", "correo", "address"}

// PickColumn returns the address column: the one named by column (a
// header, any case, or a number from 1), else the one whose header says
// e-mail and whose sample values hold addresses, else the one whose
// sample values hold the most addresses, else the first. header is nil
// for a file without one.
func PickColumn(header []string, sample [][]string, column string) (int, error) {
	if column != "" {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), column) {
				return i, nil
			}
		}
		width := len(header)
		for _, r := range sample {
			width = max(width, len(r))
		}
		if n, err := strconv.Atoi(column); err == nil && n >= 1 && n <= max(width, 1) {
			return n - 1, nil
		}
		return 0, fmt.Errorf("no column %q in the file (it has %d)", column, width)
	}
	for _, want := range headerNames {
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), want) && holdsAddresses(sample, i) {
				return i, nil
			}
		}
	}
	for i, h := range header {
		if strings.Contains(strings.ToLower(h), "mail") && holdsAddresses(sample, i) {
			return i, nil
		}
	}
	best, bestN := 0, 0
	for i := range width(sample) {
		if n, _ := Count(sample, i); n > bestN {
			best, bestN = i, n
		}
	}
	return best, nil
}

func width(rows [][]string) int {
	w := 0
	for _, r := range rows {
		w = max(w, len(r))
	}
	return w
}

// Count returns how many values of column col hold an @, and how many
// are not empty.
func Count(rows [][]string, col int) (withAt, nonEmpty int) {
	for _, r := range rows {
		if col >= len(r) {
			continue
		}
		v := Address(r[col])
		if v == "" {
			continue
		}
		nonEmpty++
		if strings.Contains(v, "@") {
			withAt++
		}
	}
	return withAt, nonEmpty
}

func holdsAddresses(rows [][]string, col int) bool {
	with, n := Count(rows, col)
	return n == 0 || 2*with >= n
}

// CheckColumn says why column col of the sample is not an address
// column: most of its values have no @.
func CheckColumn(rows [][]string, col int, name string) error {
	with, n := Count(rows, col)
	if n == 0 {
		return fmt.Errorf("column %s is empty in the first %d rows; choose the column with the addresses", name, len(rows))
	}
	if 2*with < n {
		return fmt.Errorf("column %s does not hold addresses: %d of its first %d values have an @; choose the column with the addresses", name, with, n)
	}
	return nil
}

// LooksLikeHeader reports whether a first record is a header: its
// address column holds no @ while the sample's does.
func LooksLikeHeader(first []string, col int) bool {
	return col >= len(first) || !strings.Contains(first[col], "@")
}
