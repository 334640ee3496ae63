package awsenv

import "testing"

func TestEndpoint(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AWS_REGION": "eu-west-1"}, "https://dynamodb.eu-west-1.amazonaws.com"},
		{map[string]string{"AWS_DEFAULT_REGION": "cn-north-1"}, "https://dynamodb.cn-north-1.amazonaws.com.cn"},
		{map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"}, "http://127.0.0.1:8000"},
		{map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "https://localhost:4566"}, "https://localhost:4566"},
		{map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "not a url"}, ""},
		{map[string]string{}, ""},
		{map[string]string{"AWS_REGION": "eu-west-1/../x"}, ""},
		{map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "https://dynamodb.eu-west-1.amazonaws.com"},
		// Host names that differ by service, or partitions of their own:
		// not predicted, nothing dialled in advance.
		{map[string]string{"AWS_REGION": "eu-west-1", "AWS_USE_FIPS_ENDPOINT": "true"}, ""},
		{map[string]string{"AWS_REGION": "eu-west-1", "AWS_USE_DUALSTACK_ENDPOINT": "true"}, ""},
		{map[string]string{"AWS_REGION": "us-iso-east-1"}, ""},
		{map[string]string{"AWS_REGION": "eu-west-1", "AWS_USE_FIPS_ENDPOINT": "false"}, "https://dynamodb.eu-west-1.amazonaws.com"},
	}
	for _, c := range cases {
		u := Endpoint(func(k string) string { return c.env[k] }, "DYNAMODB", "dynamodb")
		got := ""
		if u != nil {
			got = u.String()
		}
		if got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
}
