package handler

import (
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// errNotObject is returned by readMembers for input that is not exactly one
// JSON object.
var errNotObject = errors.New("not exactly one JSON object")

// readMembers reads exactly one JSON object, and nothing after it, from dec.
// It calls member with each name while dec stands at that member's value;
// member must read the value. The error is errNotObject, member's own, or
// nil.
func readMembers(dec *jsontext.Decoder, member func(name string) error) error {
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return errNotObject
	}
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return errNotObject
		}
		if err := member(tok.String()); err != nil {
			return err
		}
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return errNotObject
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return errNotObject
	}
	return nil
}
