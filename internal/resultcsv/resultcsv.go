// Package resultcsv flattens a verify.Result into a CSV row, the same for
// the command's --format csv and the service's results as text/csv.
package resultcsv

import (
	"strconv"
	"strings"
	"time"

	"github.com/mailverify/mailverify/verify"
)

// Columns are the CSV columns: the Result fields, flattened.
var Columns = []string{"input", "status", "reason", "address", "domain", "disposable", "role_account",
	"free_provider", "catch_all", "smtputf8", "subaddress", "suggestion", "provider", "mx_hosts",
	"smtp_code", "smtp_enhanced_code", "smtp_message", "smtp_host", "retry_after", "duration_ms"}

// Row returns r's cells, in the order of Columns.
func Row(r verify.Result) []string {
	var code, enh, msg, host string
	if r.SMTP != nil {
		code, enh, msg, host = strconv.Itoa(r.SMTP.Code), r.SMTP.EnhancedCode, r.SMTP.Message, r.SMTP.Host
	}
	return []string{r.Input, r.Status.String(), string(r.Reason), r.Address, r.Domain,
		strconv.FormatBool(r.Disposable), strconv.FormatBool(r.RoleAccount), strconv.FormatBool(r.FreeProvider),
		r.CatchAll.String(), strconv.FormatBool(r.SMTPUTF8), strconv.FormatBool(r.Subaddress), r.Suggestion,
		r.Provider, strings.Join(r.MXHosts, " "), code, enh, msg, host,
		strconv.Itoa(int(time.Duration(r.RetryAfter).Seconds())), strconv.FormatInt(time.Duration(r.Duration).Milliseconds(), 10)}
}
