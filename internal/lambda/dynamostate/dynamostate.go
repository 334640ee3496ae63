// Package dynamostate keeps the shared state (handler/state) in one
// DynamoDB table (STATE_TABLE; docs: "Memory across instances") with
// aws-sdk-go-v2/service/dynamodb.
//
// The table's key schema is the contract's: partition key pk (a string)
// and no sort key. An item's attributes are
//
//	pk   S  the key the core chose (a hash or an ID, never a value in clear)
//	ttl  N  expiry in epoch seconds, on every item, at most state.MaxLife ahead
//	n    N  a counter's value (Count)
//	v    B  a value (Put, PutNewer); absent for an empty value
//	ver  N  the version PutNewer wrote
//
// Every decision is one conditional write, so that instances racing
// cannot both win; a failed condition (ConditionalCheckFailedException)
// is the answer "no", not an error. Time to Live deletes expired items
// only eventually, so every condition and every read compares ttl with
// the clock: an item lives while its ttl is at or after the clock's epoch
// second, that is through the second its expiry falls in.
//
// Every call of the Store is bounded (DefaultTimeout unless changed), the
// SDK tries a request at most MaxAttempts times within that bound, and an
// error names the table and the operation, never a key or a value (keys
// may be status tokens).
package dynamostate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/complycube-session/createsession/handler/state"
)

// DefaultTimeout bounds one call of the Store, all its requests and
// retries together: the contract's "about a second", after which a
// sign-up fails closed and a webhook fails open rather than wait.
const DefaultTimeout = time.Second

// MaxAttempts is how many times the SDK sends one request at most (the
// DynamoDB client's default is four): one retry covers a dropped
// connection or a throttle, more would only use up the bound.
const MaxAttempts = 2

// MaxKeyBytes is DynamoDB's limit for a partition key; a longer (or empty)
// key is refused before any request.
const MaxKeyBytes = 2048

// Attribute names. ttl is a DynamoDB reserved word, so every expression
// names attributes through placeholders.
const (
	attrKey     = "pk"
	attrTTL     = "ttl"
	attrCount   = "n"
	attrValue   = "v"
	attrVersion = "ver"
)

// API is the part of the DynamoDB client that Table uses; *dynamodb.Client
// implements it.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Table is a state.Store on one DynamoDB table. It is safe for concurrent
// use.
type Table struct {
	name    string
	timeout time.Duration
	now     func() time.Time

	client API
}

// Option changes a Table's defaults.
type Option func(*Table)

// WithClock sets the clock expiries are compared with (tests).
func WithClock(now func() time.Time) Option { return func(t *Table) { t.now = now } }

// WithTimeout sets the bound of one call of the Store.
func WithTimeout(d time.Duration) Option { return func(t *Table) { t.timeout = d } }

// New returns a Table that uses client; NewClient makes one with this
// package's retry limit.
func New(client API, table string, opts ...Option) *Table {
	t := &Table{name: table, timeout: DefaultTimeout, now: time.Now, client: client}
	for _, o := range opts {
		o(t)
	}
	return t
}

// NewClient returns a DynamoDB client for cfg that sends a request at most
// MaxAttempts times, over httpClient when not nil.
func NewClient(cfg aws.Config, httpClient *http.Client) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		// Set on the client, after the configuration: AWS_MAX_ATTEMPTS
		// must not stretch a call beyond its bound.
		o.RetryMaxAttempts = MaxAttempts
		if httpClient != nil {
			o.HTTPClient = httpClient
		}
	})
}

var _ state.Store = (*Table)(nil)

// Claim implements state.Store: one PutItem that succeeds only when no live
// item holds the key.
func (t *Table) Claim(ctx context.Context, key string, expires time.Time) (bool, error) {
	won := false
	err := t.call(ctx, "claim", key, func(ctx context.Context, c API, now int64) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 &t.name,
			Item:                      map[string]types.AttributeValue{attrKey: str(key), attrTTL: num(expiry(expires, now))},
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #ttl < :now"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrKey, "#ttl": attrTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now)},
		})
		won, err = answer(err)
		return err
	})
	return won && err == nil, err
}

// Release implements state.Store.
func (t *Table) Release(ctx context.Context, key string) error {
	return t.call(ctx, "release", key, func(ctx context.Context, c API, _ int64) error {
		_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &t.name, Key: keyOf(key)})
		return err
	})
}

// Count implements state.Store. The first write adds one to a live counter
// below the limit, or creates a missing one; when its condition fails the
// counter is either at the limit or expired, and a second write replaces
// it only if expired. Should that fail too, another instance has just
// restarted the counter (or it is at the limit), so the first write is
// tried once more: without it, a caller racing a restart would be refused
// although the new counter has room. A refusal at the limit thus costs
// three conditional writes; a count, one (two or three when it restarts
// an expired counter).
func (t *Table) Count(ctx context.Context, key string, limit int, expires time.Time) (bool, error) {
	if limit < 1 {
		// Nothing may be counted, so nothing is written; a bad key or a
		// dead context is still refused, as by every other call.
		if err := precheck(ctx, key); err != nil {
			return false, t.wrap("count", err)
		}
		return false, nil
	}
	ok := false
	err := t.call(ctx, "count", key, func(ctx context.Context, c API, now int64) error {
		exp := num(expiry(expires, now))
		add := func() (bool, error) {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: &t.name,
				Key:       keyOf(key),
				// A new counter takes this count's expiry; a live one keeps
				// the expiry of the count that started it.
				UpdateExpression:         aws.String("SET #ttl = if_not_exists(#ttl, :exp) ADD #n :one"),
				ConditionExpression:      aws.String("attribute_not_exists(#pk) OR (#n < :limit AND #ttl >= :now)"),
				ExpressionAttributeNames: map[string]string{"#pk": attrKey, "#ttl": attrTTL, "#n": attrCount},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":exp": exp, ":one": num(1), ":limit": num(int64(limit)), ":now": num(now),
				},
			})
			return answer(err)
		}
		restart := func() (bool, error) {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: &t.name,
				Item:      map[string]types.AttributeValue{attrKey: str(key), attrCount: num(1), attrTTL: exp},
				// attribute_not_exists: Time to Live may delete the expired
				// item between the two writes.
				ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #ttl < :now"),
				ExpressionAttributeNames:  map[string]string{"#pk": attrKey, "#ttl": attrTTL},
				ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now)},
			})
			return answer(err)
		}
		var err error
		for _, write := range []func() (bool, error){add, restart, add} {
			if ok, err = write(); ok || err != nil {
				return err
			}
		}
		return nil
	})
	return ok && err == nil, err
}

// Put implements state.Store.
func (t *Table) Put(ctx context.Context, key string, value []byte, expires time.Time) error {
	return t.call(ctx, "put", key, func(ctx context.Context, c API, now int64) error {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &t.name, Item: valueItem(key, value, expiry(expires, now))})
		return err
	})
}

// PutNewer implements state.Store: one PutItem that succeeds when no live
// item holds the key with a version at or above version. A live value
// written by Put has no version and is not replaced (the condition on ver
// fails when ver is absent).
func (t *Table) PutNewer(ctx context.Context, key string, value []byte, version int64, expires time.Time) (bool, error) {
	wrote := false
	err := t.call(ctx, "put newer", key, func(ctx context.Context, c API, now int64) error {
		item := valueItem(key, value, expiry(expires, now))
		item[attrVersion] = num(version)
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 &t.name,
			Item:                      item,
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #ver < :ver OR #ttl < :now"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrKey, "#ttl": attrTTL, "#ver": attrVersion},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ver": num(version), ":now": num(now)},
		})
		wrote, err = answer(err)
		return err
	})
	return wrote && err == nil, err
}

// Get implements state.Store with a strongly consistent read: a value
// written a moment ago by another instance (a status token the session
// function just stored) must be seen.
func (t *Table) Get(ctx context.Context, key string) ([]byte, error) {
	var value []byte
	err := t.call(ctx, "get", key, func(ctx context.Context, c API, now int64) error {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &t.name, Key: keyOf(key), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return err
		}
		if out.Item == nil {
			return state.ErrNotFound
		}
		ttl, ok := out.Item[attrTTL].(*types.AttributeValueMemberN)
		if !ok {
			return errors.New("the item has no ttl") // not written by this package
		}
		exp, err := strconv.ParseInt(ttl.Value, 10, 64)
		if err != nil {
			return errors.New("the item's ttl is not a whole number")
		}
		if exp < now {
			return state.ErrNotFound // expired; Time to Live has not deleted it yet
		}
		value = []byte{}
		if v, ok := out.Item[attrValue].(*types.AttributeValueMemberB); ok {
			value = v.Value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return value, nil
}

// call runs one Store call within the bound, with the client and the
// clock's epoch second, and wraps its error.
func (t *Table) call(ctx context.Context, op, key string, f func(ctx context.Context, c API, now int64) error) error {
	if err := precheck(ctx, key); err != nil {
		return t.wrap(op, err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.wrap(op, f(ctx, t.client, t.now().Unix()))
}

// precheck refuses a dead context and a key DynamoDB would refuse before
// anything is sent.
func precheck(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" || len(key) > MaxKeyBytes {
		return fmt.Errorf("a key must have 1 to %d bytes, not %d", MaxKeyBytes, len(key))
	}
	return nil
}

// wrap names the table and the operation, never the key or a value (a key
// may be a status token). state.ErrNotFound is an answer and passes as it
// is.
func (t *Table) wrap(op string, err error) error {
	if err == nil || errors.Is(err, state.ErrNotFound) {
		return err
	}
	return fmt.Errorf("state table %s: %s: %w", t.name, op, err)
}

// answer turns a conditional write's outcome into yes, no, or an error.
func answer(err error) (bool, error) {
	var failed *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &failed):
		return false, nil
	default:
		return false, err
	}
}

// expiry is expires in epoch seconds, shortened to state.MaxLife from now.
func expiry(expires time.Time, now int64) int64 {
	return min(expires.Unix(), now+int64(state.MaxLife/time.Second))
}

func valueItem(key string, value []byte, ttl int64) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{attrKey: str(key), attrTTL: num(ttl)}
	if len(value) > 0 {
		// An empty value is no attribute: DynamoDB accepts an empty binary
		// outside keys today, but leaving it out does not depend on it.
		item[attrValue] = &types.AttributeValueMemberB{Value: value}
	}
	return item
}

func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: str(key)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
