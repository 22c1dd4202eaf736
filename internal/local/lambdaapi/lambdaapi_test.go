package lambdaapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/healthstack/tenant-provisioning/internal/local/lambdarun"
)

type TransientError struct{}

func (*TransientError) Error() string { return "database unavailable" }

type echoIn struct {
	TenantID string `json:"tenantId"`
	Mode     string `json:"mode"`
}

func echo(_ context.Context, in echoIn) (map[string]string, error) {
	switch in.Mode {
	case "fail":
		return nil, &TransientError{}
	case "panic":
		panic("boom")
	}
	return map[string]string{"tenantId": in.TenantID}, nil
}

// The server is driven by the real aws-sdk-go-v2 Lambda client, as Step Functions Local or
// any SDK would.
func TestInvokeThroughTheSDK(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(map[string]lambda.Handler{"CreateSchemaFunction": lambdarun.NewHandler(echo)}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	client := awslambda.New(awslambda.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{},
	})
	cases := []struct {
		name, function, payload string
		wantPayload, wantError  string
	}{
		{"by logical id", "CreateSchemaFunction", `{"tenantId":"t1"}`, `{"tenantId":"t1"}`, ""},
		{"by ARN", "arn:aws:lambda:us-east-1:012345678901:function:CreateSchemaFunction", `{"tenantId":"t2"}`, `{"tenantId":"t2"}`, ""},
		{"typed error", "CreateSchemaFunction", `{"mode":"fail"}`, `{"errorMessage":"database unavailable","errorType":"TransientError"}`, "Unhandled"},
		{"panic", "CreateSchemaFunction", `{"mode":"panic"}`, `{"errorMessage":"boom","errorType":"string","stackTrace":[{`, "Unhandled"},
		{"malformed payload", "CreateSchemaFunction", `{"tenantId":`, `"errorType":`, "Unhandled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, err := client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String(c.function), Payload: []byte(c.payload)})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out.Payload)); !strings.Contains(got, c.wantPayload) {
				t.Errorf("payload = %s, want %s", got, c.wantPayload)
			}
			if aws.ToString(out.FunctionError) != c.wantError || out.StatusCode != http.StatusOK {
				t.Errorf("FunctionError = %q, status %d", aws.ToString(out.FunctionError), out.StatusCode)
			}
		})
	}

	_, err := client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("NoSuchFunction")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown function: %v", err)
	}
	dry, err := client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("CreateSchemaFunction"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || dry.StatusCode != http.StatusNoContent {
		t.Errorf("dry run: %v, %+v", err, dry)
	}
}
