package clip

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanText is the reference's text preparation: ftfy.fix_text (the identity on clean text, so
// nothing here), html.unescape twice, strip, every run of white space to one space, strip, lower().
func cleanText(s string) string {
	s = unescape(unescape(s))
	s = strings.TrimFunc(s, isPySpace)
	var b strings.Builder
	space := false
	for _, r := range s {
		if isRegexSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return pyLower(strings.TrimFunc(b.String(), isPySpace))
}

// isRegexSpace is \s of python-regex on str: the Unicode White_Space property, as Go's unicode.IsSpace.
func isRegexSpace(r rune) bool { return unicode.IsSpace(r) }

// isPySpace is Python's str.isspace (what str.strip removes): bidirectional class WS, B or S, or Zs.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyLower is Python's str.lower: the full lower-case mapping (U+0130 becomes "i̇") with the
// Final_Sigma rule for U+03A3, and no language-specific rules.
func pyLower(s string) string {
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case r == 0x130:
			b.WriteString("i\u0307")
		case r == 0x3a3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether rs[i] stands where Unicode's Final_Sigma condition holds: a cased
// letter before it (skipping case-ignorable ones) and none after it.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is Unicode's Cased property: Lowercase, Uppercase or Lt.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Ll, unicode.Lu, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable is Unicode's Case_Ignorable property: Mn, Me, Cf, Lm, Sk, or Word_Break
// MidLetter, MidNumLet or Single_Quote (listed here: Go has no Word_Break tables).
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027, 0xfe13, 0xfe52,
		0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// unescape is Python's html.unescape: numeric character references with the HTML5 replacements
// (Windows-1252 for 0x80–0x9F, U+FFFD for 0, surrogates and beyond U+10FFFF, nothing for the
// other invalid code points) and named references, the longest legacy name winning when no
// full name matches (Go's html package holds the same WHATWG table and rule).
func unescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		if n, out := charRef(s); n > 0 {
			b.WriteString(out)
			s = s[n:]
			continue
		}
		b.WriteByte('&')
		s = s[1:]
	}
}

// charRef decodes the reference at the start of s ("&..."): bytes consumed (0 for none) and its text.
func charRef(s string) (int, string) {
	if len(s) < 2 {
		return 0, ""
	}
	if s[1] == '#' {
		return numericRef(s)
	}
	// Named: [^\t\n\f <&#;]{1,32};? — at most 32 characters, then an optional ';'.
	i, n := 1, 0
	for i < len(s) && n < 32 {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == '\t' || r == '\n' || r == '\f' || r == ' ' || r == '<' || r == '&' || r == '#' || r == ';' {
			break
		}
		i += w
		n++
	}
	if n == 0 {
		return 0, ""
	}
	if i < len(s) && s[i] == ';' {
		i++
	}
	return i, html.UnescapeString(s[:i])
}

// numericRef decodes "&#123;" or "&#x7b;" (the ';' optional) at the start of s.
func numericRef(s string) (int, string) {
	i, base := 2, 10
	if i < len(s) && (s[i] == 'x' || s[i] == 'X') {
		i, base = 3, 16
	}
	start := i
	var v int64
	for i < len(s) {
		d := digitVal(s[i])
		if d < 0 || d >= base {
			break
		}
		if v <= 0x10ffff {
			v = v*int64(base) + int64(d)
		}
		i++
	}
	if i == start { // "&#" or "&#x" without digits: no reference ('#' cannot start a name)
		return 0, ""
	}
	if i < len(s) && s[i] == ';' {
		i++
	}
	return i, numericText(v)
}

// digitVal is the value of a hexadecimal digit, or -1.
func digitVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// cp1252 maps the C1 references 0x80–0x9F as HTML5 does (Windows-1252; unmapped bytes stay).
var cp1252 = [32]rune{
	0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
	0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
}

// numericText is the text of numeric reference v under HTML5's rules as Python applies them.
func numericText(v int64) string {
	switch {
	case v == 0:
		return "\ufffd"
	case v == 0x0d:
		return "\r"
	case 0x80 <= v && v <= 0x9f:
		return string(cp1252[v-0x80])
	case 0xd800 <= v && v <= 0xdfff, v > 0x10ffff:
		return "\ufffd"
	case 0x1 <= v && v <= 0x8, v == 0xb, 0xe <= v && v <= 0x1f, v == 0x7f, 0xfdd0 <= v && v <= 0xfdef,
		v&0xfffe == 0xfffe:
		return ""
	}
	return string(rune(v))
}
