package turnstilestandin

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/complycube-session/createsession/internal/testonly/testclock"
)

const (
	secret = "the-secret"
	key1   = "0b3f6a52-8c1e-4d2a-9f1b-6e5d4c3b2a19"
	key2   = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
)

func checkAnswer(t *testing.T, what string, got Answer, success bool, hostname string, codes ...string) {
	t.Helper()
	if codes == nil {
		codes = []string{}
	}
	if got.Success != success || got.Hostname != hostname || !slices.Equal(got.ErrorCodes, codes) || got.ErrorCodes == nil {
		t.Errorf("%s: %+v, want success=%v hostname=%q codes=%v", what, got, success, hostname, codes)
	}
}

func TestTokenVerifiesOnce(t *testing.T) {
	clk := testclock.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	v := NewVerifier(clk.Now, secret)
	tok := v.Issue("site.example")
	if !strings.HasPrefix(tok, tokenPrefix) || len(tok) > MaxTokenLength {
		t.Fatalf("token %q", tok)
	}
	if other := v.Issue("site.example"); other == tok {
		t.Fatal("two tokens alike")
	}
	clk.Advance(10 * time.Second)
	a := v.Verify(Query{Secret: secret, Response: tok, RemoteIP: "203.0.113.7"})
	checkAnswer(t, "first use", a, true, "site.example")
	if a.ChallengeTS != "2026-03-01T12:00:00.000Z" {
		t.Errorf("challenge_ts %q, want the time of issue", a.ChallengeTS)
	}
	checkAnswer(t, "second use", v.Verify(Query{Secret: secret, Response: tok}), false, "", CodeTimeoutOrDuplicate)
}

func TestTokenExpiresAfter300Seconds(t *testing.T) {
	clk := testclock.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	v := NewVerifier(clk.Now, secret)
	atLimit, pastLimit := v.Issue("a.example"), v.Issue("b.example")
	clk.Advance(TokenTTL)
	checkAnswer(t, "at 300 s", v.Verify(Query{Secret: secret, Response: atLimit}), true, "a.example")
	clk.Advance(time.Millisecond)
	checkAnswer(t, "past 300 s", v.Verify(Query{Secret: secret, Response: pastLimit}), false, "", CodeTimeoutOrDuplicate)

	// Long after, when its record is gone, a token issued here is still
	// known for what it is.
	old := v.Issue("c.example")
	clk.Advance(keepFor + time.Minute)
	v.Issue("d.example") // prunes
	v.mu.Lock()
	_, kept := v.tokens[old]
	v.mu.Unlock()
	if kept {
		t.Fatal("record not pruned")
	}
	checkAnswer(t, "pruned", v.Verify(Query{Secret: secret, Response: old}), false, "", CodeTimeoutOrDuplicate)
	// A forged token of the same form is not.
	forged := old[:len(old)-4] + "AAAA"
	if forged == old {
		forged = old[:len(old)-4] + "BBBB"
	}
	checkAnswer(t, "forged", v.Verify(Query{Secret: secret, Response: forged}), false, "", CodeInvalidResponse)
}

func TestIdempotentRetry(t *testing.T) {
	clk := testclock.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	v := NewVerifier(clk.Now, secret)
	tok := v.Issue("site.example")
	first := v.Verify(Query{Secret: secret, Response: tok, IdempotencyKey: key1})
	checkAnswer(t, "first", first, true, "site.example")
	clk.Advance(time.Second)
	checkAnswer(t, "retry, same key", v.Verify(Query{Secret: secret, Response: tok, IdempotencyKey: key1}), true, "site.example")
	checkAnswer(t, "another key", v.Verify(Query{Secret: secret, Response: tok, IdempotencyKey: key2}), false, "", CodeTimeoutOrDuplicate)
	checkAnswer(t, "no key", v.Verify(Query{Secret: secret, Response: tok}), false, "", CodeTimeoutOrDuplicate)
	// The first answer, even past the token's life.
	clk.Advance(TokenTTL)
	checkAnswer(t, "retry, late", v.Verify(Query{Secret: secret, Response: tok, IdempotencyKey: key1}), true, "site.example")

	// A first verification without a key leaves nothing to repeat.
	tok2 := v.Issue("site.example")
	checkAnswer(t, "first, no key", v.Verify(Query{Secret: secret, Response: tok2}), true, "site.example")
	checkAnswer(t, "retry with a key", v.Verify(Query{Secret: secret, Response: tok2, IdempotencyKey: key1}), false, "", CodeTimeoutOrDuplicate)

	// The key of an expired token's verification repeats its failure.
	tok3 := v.Issue("site.example")
	clk.Advance(TokenTTL + time.Second)
	checkAnswer(t, "expired", v.Verify(Query{Secret: secret, Response: tok3, IdempotencyKey: key2}), false, "", CodeTimeoutOrDuplicate)
	checkAnswer(t, "expired, retry", v.Verify(Query{Secret: secret, Response: tok3, IdempotencyKey: key2}), false, "", CodeTimeoutOrDuplicate)

	checkAnswer(t, "key not a UUID", v.Verify(Query{Secret: secret, Response: v.Issue("x"), IdempotencyKey: "not-a-uuid"}), false, "", CodeBadRequest)
}

func TestSecretAndResponseChecks(t *testing.T) {
	v := NewVerifier(nil, secret, TestSecretPass, TestSecretFail, TestSecretSpent)
	tok := v.Issue("site.example")
	checkAnswer(t, "nothing", v.Verify(Query{}), false, "", CodeMissingSecret, CodeMissingResponse)
	checkAnswer(t, "no secret", v.Verify(Query{Response: tok}), false, "", CodeMissingSecret)
	checkAnswer(t, "wrong secret", v.Verify(Query{Secret: "other", Response: tok}), false, "", CodeInvalidSecret)
	checkAnswer(t, "no token", v.Verify(Query{Secret: secret}), false, "", CodeMissingResponse)
	checkAnswer(t, "unknown token", v.Verify(Query{Secret: secret, Response: "nope"}), false, "", CodeInvalidResponse)
	checkAnswer(t, "dummy token", v.Verify(Query{Secret: secret, Response: DummyToken}), false, "", CodeInvalidResponse)
	checkAnswer(t, "too long", v.Verify(Query{Secret: secret, Response: strings.Repeat("a", MaxTokenLength+1)}), false, "", CodeInvalidResponse)
	// The refusals above did not use the token up.
	checkAnswer(t, "then right", v.Verify(Query{Secret: secret, Response: tok}), true, "site.example")

	checkAnswer(t, "test pass", v.Verify(Query{Secret: TestSecretPass, Response: DummyToken}), true, TestHostname)
	checkAnswer(t, "test pass, again", v.Verify(Query{Secret: TestSecretPass, Response: DummyToken}), true, TestHostname)
	checkAnswer(t, "test fail", v.Verify(Query{Secret: TestSecretFail, Response: DummyToken}), false, "", CodeInvalidResponse)
	checkAnswer(t, "test spent", v.Verify(Query{Secret: TestSecretSpent, Response: DummyToken}), false, "", CodeTimeoutOrDuplicate)
	checkAnswer(t, "test pass, no token", v.Verify(Query{Secret: TestSecretPass}), false, "", CodeMissingResponse)

	only := NewVerifier(nil, secret)
	checkAnswer(t, "test key not given", only.Verify(Query{Secret: TestSecretPass, Response: DummyToken}), false, "", CodeInvalidSecret)
}

func TestTokensAreBounded(t *testing.T) {
	v := NewVerifier(nil, secret)
	first := v.Issue("site.example")
	for range maxTokens + 10 {
		v.Issue("site.example")
	}
	v.mu.Lock()
	n, m := len(v.tokens), len(v.order)
	v.mu.Unlock()
	if n != maxTokens || m != maxTokens {
		t.Fatalf("%d records, %d in order; want %d", n, m, maxTokens)
	}
	checkAnswer(t, "dropped", v.Verify(Query{Secret: secret, Response: first}), false, "", CodeTimeoutOrDuplicate)
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		key1:                                   true,
		strings.ToUpper(key1):                  true,
		"0b3f6a52-8c1e-4d2a-9f1b-6e5d4c3b2a1":  false,
		"0b3f6a52-8c1e-4d2a-9f1b-6e5d4c3b2a1g": false,
		"0b3f6a528c1e-4d2a-9f1b-6e5d4c3b2a19-": false,
		"":                                     false,
	} {
		if IsUUID(s) != want {
			t.Errorf("IsUUID(%q) = %v", s, !want)
		}
	}
}
