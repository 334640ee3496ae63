// Command hello is the floor the benchmark compares against: the smallest
// aws-lambda-go function, answering every event with a fixed 200.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (map[string]any, error) {
		return map[string]any{"statusCode": 200, "body": `{"redirectUrl":"https://id.example/hello"}`}, nil
	})
}
