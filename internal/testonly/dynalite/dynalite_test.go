package dynalite

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestServer: the table CreateTable makes has the contract's key schema, a
// written item comes back from Scan, and Kill makes the server refuse
// connections (what the adapters' "table down" tests rely on).
func TestServer(t *testing.T) {
	s := Start(t)
	u, err := url.Parse(s.URL())
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("URL %q: want a 127.0.0.1 endpoint (%v)", s.URL(), err)
	}
	s.CreateTable(t, "state")
	ctx := context.Background()
	c := s.Client(t)

	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("state")})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Table.KeySchema) != 1 || aws.ToString(d.Table.KeySchema[0].AttributeName) != "pk" || d.Table.KeySchema[0].KeyType != types.KeyTypeHash {
		t.Errorf("key schema %+v: want pk as the only (hash) key", d.Table.KeySchema)
	}
	if len(d.Table.AttributeDefinitions) != 1 || d.Table.AttributeDefinitions[0].AttributeType != types.ScalarAttributeTypeS {
		t.Errorf("attribute definitions %+v: want pk a string", d.Table.AttributeDefinitions)
	}

	item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}, "ttl": &types.AttributeValueMemberN{Value: "1"}}
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("state"), Item: item}); err != nil {
		t.Fatal(err)
	}
	items := s.Scan(t, "state")
	if len(items) != 1 || items[0]["pk"].(*types.AttributeValueMemberS).Value != "k" {
		t.Errorf("Scan = %v, want the one item written", items)
	}

	env := s.Env("state")
	for _, want := range []string{"AWS_ENDPOINT_URL_DYNAMODB=" + s.URL(), "STATE_TABLE=state", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true"} {
		if !slices.Contains(env, want) {
			t.Errorf("Env lacks %s: %v", want, env)
		}
	}

	s.Kill()
	s.Kill() // twice is fine
	if !s.Exited() {
		t.Fatal("process still running after Kill")
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("the port still accepts connections after Kill")
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Logf("dial after Kill: %v (want refused)", err)
	}
}

// TestStop: Stop ends the server by closing its stdin, the same path that
// ends an orphaned dynalite when a test process dies.
func TestStop(t *testing.T) {
	s := Start(t)
	began := time.Now()
	s.Stop()
	if !s.Exited() {
		t.Fatal("process still running after Stop")
	}
	if d := time.Since(began); d > 4*time.Second {
		t.Errorf("Stop took %v: dynalite did not end on stdin's close, it was killed", d)
	}
}

// TestStartTwice: two servers at once (two test packages, or a test that
// needs two) get their own ports and tables.
func TestStartTwice(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.URL() == b.URL() {
		t.Fatalf("both servers at %s", a.URL())
	}
	a.CreateTable(t, "only-in-a")
	if items, err := b.Client(t).ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil || len(items.TableNames) != 0 {
		t.Fatalf("b's tables = %v, %v: want none", items, err)
	}
}
