package handler

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// Invitations are JWTs (RFC 7519, compact form) signed with HMAC-SHA256 by
// the secret's invitationKey. They are verified with golang-jwt/jwt, whose
// parser checks the algorithm against an allowlist before it looks up a
// key or touches the signature; the checks it does not make (the token's
// size, duplicate names, the lifetime bound, the audience only when
// present, the claims' forms) are made here.
const (
	// InvitationAudience is the only audience an invitation may name.
	InvitationAudience = "complycube-createsession"
	// MaxInvitationLength bounds a token before any decoding.
	MaxInvitationLength = 2048
	// MaxInvitationLifetime bounds exp after iat (and after now).
	MaxInvitationLifetime = 30 * 24 * time.Hour
	// InvitationClockSkew is allowed on exp, nbf and iat.
	InvitationClockSkew = 30 * time.Second
)

// Invitation is what a valid token says.
type Invitation struct {
	ClientID           string    // sub
	WorkflowTemplateID string    // wft; "" when absent
	ExpiresAt          time.Time // exp
}

// ErrInvalidInvitation is wrapped by every refusal; the caller answers the
// same for all of them.
var ErrInvalidInvitation = errors.New("invalid invitation")

// ErrInvitationSignature is a refusal because the signature did not verify
// with the key: the one refusal that a rotated key could change.
var ErrInvitationSignature = fmt.Errorf("%w: signature does not verify", ErrInvalidInvitation)

// invitationClaims are the claims read from a token.
type invitationClaims struct {
	jwt.RegisteredClaims
	WorkflowTemplateID *string `json:"wft,omitempty"`
}

var strictSegment = base64.RawURLEncoding.Strict()

// VerifyInvitation checks token with key at the time now.
func VerifyInvitation(token string, key []byte, now time.Time) (Invitation, error) {
	refuse := func(reason string) (Invitation, error) {
		return Invitation{}, fmt.Errorf("%w: %s", ErrInvalidInvitation, reason)
	}
	if len(token) > MaxInvitationLength {
		return refuse("longer than 2048 characters")
	}
	segments := strings.Split(token, ".")
	if len(segments) != 3 {
		return refuse(fmt.Sprintf("%d segments, not 3", len(segments)))
	}
	// The header and the claims must each be one JSON object that no two
	// parsers could read two ways: strict base64url, no duplicate names.
	for _, seg := range segments[:2] {
		raw, err := strictSegment.DecodeString(seg)
		if err != nil {
			return refuse("a segment is not base64url")
		}
		v := jsontext.Value(raw)
		if !v.IsValid() || v.Kind() != '{' {
			return refuse("a segment is not one JSON object without duplicate names")
		}
	}
	var claims invitationClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(InvitationClockSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return Invitation{}, ErrInvitationSignature
	case err != nil:
		return refuse(err.Error())
	}
	exp := claims.ExpiresAt.Time
	if claims.IssuedAt != nil && exp.Sub(claims.IssuedAt.Time) > MaxInvitationLifetime {
		return refuse("exp is more than 30 days after iat")
	}
	if exp.Sub(now) > MaxInvitationLifetime+InvitationClockSkew {
		return refuse("exp is more than 30 days away")
	}
	if claims.Audience != nil && (len(claims.Audience) != 1 || claims.Audience[0] != InvitationAudience) {
		return refuse("aud is not " + InvitationAudience)
	}
	if !validID(claims.Subject) {
		return refuse("sub is not a client ID")
	}
	inv := Invitation{ClientID: claims.Subject, ExpiresAt: exp}
	if claims.WorkflowTemplateID != nil {
		if !validID(*claims.WorkflowTemplateID) {
			return refuse("wft is not a workflow template ID")
		}
		inv.WorkflowTemplateID = *claims.WorkflowTemplateID
	}
	return inv, nil
}

// MintInvitation signs an invitation for inv with key, issued at now and
// valid until inv.ExpiresAt, for cmd/invite and the dev server. Any JWT
// library makes the same tokens: HS256, claims sub, iat, exp, aud and
// (when set) wft.
func MintInvitation(key []byte, inv Invitation, now time.Time) (string, error) {
	if len(key) < 32 {
		return "", errors.New("the invitation key must be at least 32 bytes")
	}
	if !validID(inv.ClientID) {
		return "", fmt.Errorf("client ID %q is not 1 to 128 letters, digits, '_' or '-'", inv.ClientID)
	}
	if inv.WorkflowTemplateID != "" && !validID(inv.WorkflowTemplateID) {
		return "", fmt.Errorf("workflow template ID %q is not 1 to 128 letters, digits, '_' or '-'", inv.WorkflowTemplateID)
	}
	if d := inv.ExpiresAt.Sub(now); d <= 0 || d > MaxInvitationLifetime {
		return "", fmt.Errorf("an invitation must expire after it is issued and within 30 days (asked: %v)", d.Round(time.Second))
	}
	claims := invitationClaims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   inv.ClientID,
		Audience:  jwt.ClaimStrings{InvitationAudience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(inv.ExpiresAt),
	}}
	if inv.WorkflowTemplateID != "" {
		claims.WorkflowTemplateID = &inv.WorkflowTemplateID
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}
