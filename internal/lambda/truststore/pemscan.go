package truststore

import (
	"bytes"
	"encoding/base64"
)

// pemBlock is one block as encoding/pem.Decode would return it, reduced to
// what x509.CertPool.AppendCertsFromPEM looks at.
type pemBlock struct {
	// certificate: Type "CERTIFICATE" and no headers (the blocks
	// AppendCertsFromPEM parses).
	certificate bool
	// body is the undecoded base64 text (spaces, tabs and line breaks
	// included) when der is nil; der is the decoded content otherwise.
	body []byte
	der  []byte
}

var (
	pemStart     = []byte("\n-----BEGIN ")
	pemEnd       = []byte("\n-----END ")
	pemEndOfLine = []byte("-----")
	colon        = []byte(":")
	endLine      = pemEnd[1:]
)

// nextPEM is encoding/pem.Decode (Go 1.26, pem.go), step for step, with
// three changes that leave its results the same:
//
//   - bytes.LastIndex (a byte-at-a-time backward scan over the whole block)
//     is replaced by repeated forward bytes.Index, which finds the same
//     occurrence;
//   - headers are only noted, not collected into a map;
//   - the base64 body is usually not decoded: it is returned as text, to be
//     decoded when the block is needed (a body that then fails to decode is
//     dropped). Decode decodes it at once and, if it is not valid base64,
//     skips the block and resumes its search right after "\n-----END ",
//     that is at the END line's "TYPE-----" and whitespace, one newline,
//     then what follows the END line; nextPEM resumes at what follows. The
//     two searches find the same blocks: the END line's remainder holds one
//     newline, at its end, and no "-----BEGIN " (TYPE is text after the
//     last "-----BEGIN " before that END), so every "\n-----END " and
//     "-----BEGIN " is found at the same place, with the same byte before
//     it, except an "-----END " right at the start of what follows, which
//     the newline makes an END line for Decode only. When what follows
//     starts with "-----END ", nextPEM decodes the body now, as Decode does.
//
// ok is false where Decode returns a nil block.
func nextPEM(data []byte) (b pemBlock, rest []byte, ok bool) {
	// pemStart begins with a newline. However, at the very beginning of
	// the byte array, we'll accept the start string without it.
	rest = data

	endTrailerIndex := 0
	for {
		// If we've already tried parsing a block, skip past the END we already
		// saw.
		if endTrailerIndex < 0 || endTrailerIndex > len(rest) {
			return pemBlock{}, data, false
		}
		rest = rest[endTrailerIndex:]

		// Find the first END line, and then find the last BEGIN line before
		// the end line. This lets us skip any repeated BEGIN lines that don't
		// have a matching END.
		endIndex := indexEnd(rest)
		if endIndex < 0 {
			return pemBlock{}, data, false
		}
		endTrailerIndex = endIndex + len(pemEnd)
		beginIndex := lastIndex(rest[:endIndex], pemStart[1:])
		if beginIndex < 0 || (beginIndex > 0 && rest[beginIndex-1] != '\n') {
			continue
		}
		rest = rest[beginIndex+len(pemStart)-1:]
		endIndex -= beginIndex + len(pemStart) - 1
		endTrailerIndex -= beginIndex + len(pemStart) - 1

		var typeLine []byte
		var consumed int
		typeLine, rest, consumed = getLine(rest)
		endIndex -= consumed
		endTrailerIndex -= consumed
		if !bytes.HasSuffix(typeLine, pemEndOfLine) {
			continue
		}
		typeLine = typeLine[0 : len(typeLine)-len(pemEndOfLine)]

		headers := false
		for {
			// This loop terminates because getLine's second result is
			// always smaller than its argument.
			if len(rest) == 0 {
				return pemBlock{}, data, false
			}
			line, next, consumed := getLine(rest)

			if !bytes.Contains(line, colon) {
				break
			}
			headers = true
			rest = next
			endIndex -= consumed
			endTrailerIndex -= consumed
		}

		// If there were headers, there must be a newline between the headers
		// and the END line, so endIndex should be >= 0.
		if headers && endIndex < 0 {
			continue
		}

		// After the "-----" of the ending line, there should be the same type
		// and then a final five dashes.
		endTrailer := rest[endTrailerIndex:]
		endTrailerLen := len(typeLine) + len(pemEndOfLine)
		if len(endTrailer) < endTrailerLen {
			continue
		}

		restOfEndLine := endTrailer[endTrailerLen:]
		endTrailer = endTrailer[:endTrailerLen]
		if !bytes.HasPrefix(endTrailer, typeLine) ||
			!bytes.HasSuffix(endTrailer, pemEndOfLine) {
			continue
		}

		// The line must end with only whitespace.
		if s, _, _ := getLine(restOfEndLine); len(s) != 0 {
			continue
		}

		b = pemBlock{certificate: string(typeLine) == "CERTIFICATE" && !headers, der: []byte{}}
		// the -1 is because we might have only matched pemEnd without the
		// leading newline if the PEM block was empty.
		_, after, _ := getLine(rest[endIndex+len(pemEnd)-1:])
		if endIndex > 0 {
			if !bytes.HasPrefix(after, endLine) {
				b.body, b.der = rest[:endIndex], nil
			} else {
				der, err := decodeBody(rest[:endIndex])
				if err != nil {
					continue
				}
				b.der = der
			}
		}
		return b, after, true
	}
}

// decodeBody is pem.Decode's decoding of a block's body.
func decodeBody(body []byte) ([]byte, error) {
	base64Data := removeSpacesAndTabs(body)
	der := make([]byte, base64.StdEncoding.DecodedLen(len(base64Data)))
	n, err := base64.StdEncoding.Decode(der, base64Data)
	if err != nil {
		return nil, err
	}
	return der[:n], nil
}

// bodySubject reads the subject of the certificate whose base64 body is
// body, decoding it a line at a time into out until the subject is
// complete (or out is full). A line the decoder rejects (one with spaces or
// tabs, which pem.Decode removes first, or whose length is not a multiple
// of 4) makes it report false, and the caller decode the whole body. The
// base64 decoder skips line breaks, so where the whole body decodes, the
// lines' bytes are its first ones.
func bodySubject(body, out []byte) ([]byte, bool) {
	n := 0
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if base64.StdEncoding.DecodedLen(len(line)) > len(out)-n {
			break
		}
		m, err := base64.StdEncoding.Decode(out[n:], line)
		if err != nil {
			return nil, false
		}
		n += m
		if bytes.IndexByte(line, '=') >= 0 {
			break // padding: the end
		}
		if n >= 64 {
			if subject, ok := rawSubjectPrefix(out[:n]); ok {
				return subject, true
			}
		}
	}
	return rawSubjectPrefix(out[:n])
}

// indexEnd is bytes.Index(s, pemEnd).
func indexEnd(s []byte) int {
	from := 0
	for {
		i := indexDash(s[from:], endLine)
		if i < 0 {
			return -1
		}
		i += from
		if i > 0 && s[i-1] == '\n' {
			return i - 1
		}
		from = i + 1
	}
}

// indexDash is bytes.Index(s, sep) for a sep that starts with '-', which
// base64 text lacks: IndexByte skips the bodies, where bytes.Index, put off
// by the dashes of BEGIN and END lines, falls back to comparing at every
// byte.
func indexDash(s, sep []byte) int {
	from := 0
	for {
		i := bytes.IndexByte(s[from:], sep[0])
		if i < 0 {
			return -1
		}
		i += from
		if bytes.HasPrefix(s[i:], sep) {
			return i
		}
		from = i + 1
	}
}

// lastIndex is bytes.LastIndex(s, sep) for a sep that starts with '-',
// scanning forward.
func lastIndex(s, sep []byte) int {
	i := indexDash(s, sep)
	if i < 0 {
		return -1
	}
	for {
		j := indexDash(s[i+1:], sep)
		if j < 0 {
			return i
		}
		i += 1 + j
	}
}

// getLine is encoding/pem's.
func getLine(data []byte) (line, rest []byte, consumed int) {
	i := bytes.IndexByte(data, '\n')
	var j int
	if i < 0 {
		i = len(data)
		j = i
	} else {
		j = i + 1
		if i > 0 && data[i-1] == '\r' {
			i--
		}
	}
	return bytes.TrimRight(data[0:i], " \t"), data[j:], j
}

// removeSpacesAndTabs is encoding/pem's.
func removeSpacesAndTabs(data []byte) []byte {
	if !bytes.ContainsAny(data, " \t") {
		return data
	}
	result := make([]byte, len(data))
	n := 0
	for _, b := range data {
		if b == ' ' || b == '\t' {
			continue
		}
		result[n] = b
		n++
	}
	return result[0:n]
}
