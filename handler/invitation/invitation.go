// Package invitation mints and checks invitations: JWTs (RFC 7519, compact
// form) signed with HMAC-SHA256 by the secret's invitationKey, naming the
// ComplyCube client to verify. Minting and checking live together so that
// the claims one writes are the claims the other reads; the create-session
// core checks, cmd/invite and the dev server mint.
package invitation

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"

	"github.com/complycube-session/createsession/handler/api"
)

// Tokens are verified with golang-jwt/jwt, whose
// parser checks the algorithm against an allowlist before it looks up a
// key or touches the signature; the checks it does not make (the token's
// size, duplicate names, the lifetime bound, the audience only when
// present, the claims' forms) are made here.
// MinKeyBytes is the shortest invitationKey taken: HMAC-SHA256's own
// output size, so that guessing the key is no easier than forging a MAC.
const MinKeyBytes = 32

// CheckKey reports whether key may sign invitations: the one place of the
// rule, for the secret's invitationKey, INVITATION_KEY and cmd/invite.
func CheckKey(key []byte) error {
	if len(key) < MinKeyBytes {
		return fmt.Errorf("is shorter than %d bytes (make one with: openssl rand -base64 48)", MinKeyBytes)
	}
	return nil
}

const (
	// Audience is the only audience an invitation may name.
	Audience = "complycube-createsession"
	// MaxLength bounds a token before any decoding.
	MaxLength = 2048
	// MaxLifetime bounds exp after iat (and after now).
	MaxLifetime = 30 * 24 * time.Hour
	// ClockSkew is allowed on exp, nbf and iat.
	ClockSkew = 30 * time.Second
)

// Claims is what a valid token says.
type Claims struct {
	ClientID           string    // sub
	WorkflowTemplateID string    // wft; "" when absent
	ExpiresAt          time.Time // exp
}

// ErrInvalid is wrapped by every refusal; the caller answers the
// same for all of them.
var ErrInvalid = errors.New("invalid invitation")

// ErrSignature is a refusal because the signature did not verify
// with the key: the one refusal that a rotated key could change.
var ErrSignature = fmt.Errorf("%w: signature does not verify", ErrInvalid)

// tokenClaims are the claims read from a token.
type tokenClaims struct {
	jwt.RegisteredClaims
	WorkflowTemplateID *string `json:"wft,omitempty"`
}

var strictSegment = base64.RawURLEncoding.Strict()

// CheckForm reports whether token is a well-formed HS256 invitation
// before any key is needed: at most 2048 characters, three strict
// base64url segments, a header and claims that are each one JSON object no
// two parsers could read two ways, a header whose alg is exactly HS256
// ("none" and every other algorithm are refused here, before any key or
// signature work), and exp, nbf and iat as JSON numbers (RFC 7519's
// NumericDate; a string there is malformed). Only a token that passes may
// cause the key to be read, or read again.
func CheckForm(token string) error {
	refuse := func(reason string) error {
		return fmt.Errorf("%w: %s", ErrInvalid, reason)
	}
	if len(token) > MaxLength {
		return refuse("longer than 2048 characters")
	}
	segments := strings.Split(token, ".")
	if len(segments) != 3 {
		return refuse(fmt.Sprintf("%d segments, not 3", len(segments)))
	}
	var objects [2]map[string]jsontext.Value
	for i, seg := range segments[:2] {
		raw, err := strictSegment.DecodeString(seg)
		if err != nil {
			return refuse("a segment is not base64url")
		}
		v := jsontext.Value(raw)
		if !v.IsValid() || v.Kind() != '{' {
			return refuse("a segment is not one JSON object without duplicate names")
		}
		if err := jsonv2.Unmarshal(raw, &objects[i]); err != nil {
			return refuse("a segment is not one JSON object")
		}
	}
	header, claims := objects[0], objects[1]
	if alg, ok := header["alg"]; !ok || string(alg) != `"HS256"` {
		return refuse("the header's alg is not HS256")
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		if v, ok := claims[name]; ok && v.Kind() != '0' {
			return refuse(name + " is not a JSON number")
		}
	}
	if _, ok := claims["exp"]; !ok {
		return refuse("no exp")
	}
	return nil
}

// Verify checks token with key at the time now.
func Verify(token string, key []byte, now time.Time) (Claims, error) {
	refuse := func(reason string) (Claims, error) {
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalid, reason)
	}
	if err := CheckForm(token); err != nil {
		return Claims{}, err
	}
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Claims{}, ErrSignature
	case err != nil:
		return refuse(err.Error())
	}
	exp := claims.ExpiresAt.Time
	if claims.IssuedAt != nil && exp.Sub(claims.IssuedAt.Time) > MaxLifetime {
		return refuse("exp is more than 30 days after iat")
	}
	if exp.Sub(now) > MaxLifetime+ClockSkew {
		return refuse("exp is more than 30 days away")
	}
	if claims.Audience != nil && (len(claims.Audience) != 1 || claims.Audience[0] != Audience) {
		return refuse("aud is not " + Audience)
	}
	if !api.ValidID(claims.Subject) {
		return refuse("sub is not a client ID")
	}
	inv := Claims{ClientID: claims.Subject, ExpiresAt: exp}
	if claims.WorkflowTemplateID != nil {
		if !api.ValidID(*claims.WorkflowTemplateID) {
			return refuse("wft is not a workflow template ID")
		}
		inv.WorkflowTemplateID = *claims.WorkflowTemplateID
	}
	return inv, nil
}

// Mint signs an invitation for inv with key, issued at now and
// valid until inv.ExpiresAt, for cmd/invite and the dev server. Any JWT
// library makes the same tokens: HS256, claims sub, iat, exp, aud and
// (when set) wft.
func Mint(key []byte, inv Claims, now time.Time) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", fmt.Errorf("the invitation key %w", err)
	}
	if !api.ValidID(inv.ClientID) {
		return "", fmt.Errorf("client ID %q is not 1 to 128 letters, digits, '_' or '-'", inv.ClientID)
	}
	if inv.WorkflowTemplateID != "" && !api.ValidID(inv.WorkflowTemplateID) {
		return "", fmt.Errorf("workflow template ID %q is not 1 to 128 letters, digits, '_' or '-'", inv.WorkflowTemplateID)
	}
	if d := inv.ExpiresAt.Sub(now); d <= 0 || d > MaxLifetime {
		return "", fmt.Errorf("an invitation must expire after it is issued and within 30 days (asked: %v)", d.Round(time.Second))
	}
	claims := tokenClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   inv.ClientID,
		Audience:  jwt.ClaimStrings{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(inv.ExpiresAt),
	}}
	if inv.WorkflowTemplateID != "" {
		claims.WorkflowTemplateID = &inv.WorkflowTemplateID
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}
