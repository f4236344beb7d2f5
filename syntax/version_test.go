package syntax

import "unicode"

func unicodeVersionOfGo() string { return unicode.Version }
