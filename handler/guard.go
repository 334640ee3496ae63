package handler

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/complycube-session/createsession/handler/api"
	"github.com/complycube-session/createsession/handler/cors"
	"github.com/complycube-session/createsession/handler/invitation"
)

// What stands between the open internet and the operator's ComplyCube
// quota (docs/security.md): the bot check, the sign-up limits and the
// invitation's session cap. Each refusal comes before any ComplyCube call.

// Error types of the refusals.
const (
	TypeBotCheckFailed   = "bot_check_failed"
	TypeInvitationUsedUp = "invitation_used_up"
	// botCheckTimeout bounds the bot check; the adapter's own bound is
	// shorter.
	botCheckTimeout       = 5 * time.Second
	refusedBot            = "bot"
	refusedIP             = "ip"
	refusedEmail          = "email"
	refusedDay            = "day"
	limitWindowIP         = time.Hour
	invitationClockSkewUp = invitation.ClockSkew
)

// checkBot asks the bot check about the request's token. ok is false when
// o is the answer: 403 for a verdict of no (or a token solved on a host
// that is not an allowed origin's), 503 when the check cannot be asked.
func (h *SessionStarter) checkBot(ctx context.Context, token, sourceIP string) (o outcome, ok bool) {
	if h.bots == nil {
		return unavailable(errors.New("the bot check is on but no bot check is wired")), false
	}
	ctx, cancel := context.WithTimeout(ctx, botCheckTimeout)
	defer cancel()
	v, err := h.bots.Verify(ctx, token, sourceIP)
	if err != nil {
		return unavailable(fmt.Errorf("bot check: %w", err)), false
	}
	if !v.Success {
		o := fail(http.StatusForbidden, TypeBotCheckFailed, "The bot check did not pass. Try again.", fmt.Errorf("bot check refused the token: %s", strings.Join(v.ErrorCodes, ",")))
		o.refusedFor = refusedBot
		return o, false
	}
	if !h.allowedBotHost(v.Hostname) {
		o := fail(http.StatusForbidden, TypeBotCheckFailed, "The bot check did not pass. Try again.", fmt.Errorf("bot check token solved on host %q, not an allowed origin's", cut(v.Hostname, 100)))
		o.refusedFor = refusedBot
		return o, false
	}
	return outcome{}, true
}

// allowedBotHost: the token must have been solved on the host of an
// allowed origin (any host while ALLOWED_ORIGINS is *, for development).
func (h *SessionStarter) allowedBotHost(host string) bool {
	if h.cfg.AllowedOrigins.AnyOrigin {
		return host != ""
	}
	for _, o := range h.cfg.AllowedOrigins.Origins {
		if hostOf(o) == strings.ToLower(host) {
			return true
		}
	}
	return false
}

// hostOf is the host of an origin, without brackets or port.
func hostOf(o cors.Origin) string {
	_, rest, _ := strings.Cut(string(o), "://")
	host, _, err := cors.SplitHostPort(rest)
	if err != nil {
		return ""
	}
	return host
}

// takeSignupPlaces takes a place under each sign-up limit, in order: this
// address this hour, this e-mail address today, all sign-ups today. A place
// is not given back when a later limit or ComplyCube refuses: a retry must
// not be free. ok is false when o is the answer: 429 with Retry-After for
// a limit reached, 503 when the shared state cannot count (fail closed).
func (h *SessionStarter) takeSignupPlaces(ctx context.Context, hashKey []byte, sourceIP, email string) (o outcome, ok bool) {
	now := h.now().UTC()
	hour := now.Truncate(time.Hour)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	limits := []struct {
		reason, key, message string
		limit                int
		ends                 time.Time
	}{
		{refusedIP, "limit#ip#" + api.KeyedHash(hashKey, "ip", api.SourceAddress(sourceIP)) + "#" + hour.Format("2006010215"),
			"Too many sign-ups from this address. Try again later.", h.limits.PerIP, hour.Add(limitWindowIP)},
		{refusedEmail, "limit#email#" + api.KeyedHash(hashKey, "email", strings.ToLower(email)) + "#" + day.Format("20060102"),
			"Too many sign-ups for this e-mail address today. Try again tomorrow.", h.limits.PerEmail, day.AddDate(0, 0, 1)},
		{refusedDay, "limit#day#" + day.Format("20060102"),
			"Today's sign-ups are used up. Try again tomorrow.", h.limits.PerDay, day.AddDate(0, 0, 1)},
	}
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	for _, l := range limits {
		room, err := h.store.Count(sctx, l.key, l.limit, l.ends)
		if err != nil {
			o := unavailable(fmt.Errorf("count sign-ups (%s): %w", l.reason, err))
			o.stateError = err
			return o, false
		}
		if !room {
			o := fail(http.StatusTooManyRequests, api.TypeRateLimitExceeded, l.message, fmt.Errorf("sign-up limit reached: %s", l.reason))
			o.resp.Header.Set("Retry-After", strconv.Itoa(int(l.ends.Sub(now).Seconds())+1))
			o.refusedFor = l.reason
			return o, false
		}
	}
	return outcome{}, true
}

// countInvitation takes one of the invitation's sessions. ok is false when
// o is the answer: 410 once the invitation has started its
// INVITATION_MAX_SESSIONS, 503 when the shared state cannot count.
func (h *SessionStarter) countInvitation(ctx context.Context, token string, claims invitation.Claims) (o outcome, ok bool) {
	sum := sha256.Sum256([]byte(token))
	key := "invitation#" + base64.RawURLEncoding.EncodeToString(sum[:])
	sctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	room, err := h.store.Count(sctx, key, h.cfg.InvitationMaxSessions, claims.ExpiresAt.Add(invitationClockSkewUp))
	if err != nil {
		o := unavailable(fmt.Errorf("count the invitation's sessions: %w", err))
		o.stateError = err
		return o, false
	}
	if !room {
		o := fail(http.StatusGone, TypeInvitationUsedUp, "This invitation has been used as often as it may be. Ask for a new one.", fmt.Errorf("invitation used %d times", h.cfg.InvitationMaxSessions))
		return o, false
	}
	return outcome{}, true
}

// cut shortens s for a log line.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
