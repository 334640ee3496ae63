package handler

// UnencodableResponse exposes the fallback answer to the tests.
func UnencodableResponse() []byte { return unencodableResponse }
