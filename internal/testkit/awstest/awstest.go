// Package awstest points the real aws-sdk-go-v2 clients at the AWS API emulator the tests
// run against (moto_server here, LocalStack on a workstation), through the SDK's standard
// AWS_ENDPOINT_URL, and reads back what the emulator recorded. It is imported by tests only.
package awstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/healthstack/tenant-provisioning/internal/auditchain"
	"github.com/healthstack/tenant-provisioning/internal/config"
)

// Endpoint is the emulator's URL; a test that needs it fails, clearly, when it is not set.
// Under -short (the unit tests alone) such a test is skipped.
func Endpoint(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs an AWS API emulator: an integration test, which -short leaves out")
	}
	ep := os.Getenv("AWS_ENDPOINT_URL")
	if ep == "" {
		t.Fatal("awstest: AWS_ENDPOINT_URL is not set. These tests call AWS APIs through an emulator:\n" +
			"  run them with `make test` (it starts moto_server on 127.0.0.1:4566), or start\n" +
			"  moto_server / LocalStack yourself and export AWS_ENDPOINT_URL=http://127.0.0.1:4566")
	}
	resp, err := http.Get(strings.TrimSuffix(ep, "/") + "/moto-api/")
	if err != nil {
		t.Fatalf("awstest: no AWS API emulator answers at AWS_ENDPOINT_URL=%s: %v\n  start one with infra/local/moto.sh", ep, err)
	}
	resp.Body.Close()
	return ep
}

// Config is the SDK configuration the functions themselves would load, pointed at the
// emulator by AWS_ENDPOINT_URL, with dummy credentials unless real-looking ones are set.
func Config(t testing.TB) aws.Config {
	t.Helper()
	Endpoint(t)
	opts := []func(*awsconfig.LoadOptions) error{}
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, awsconfig.WithRegion("us-east-1"))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		t.Fatalf("awstest: load AWS config: %v", err)
	}
	return cfg
}

// UniqueName returns prefix plus a random suffix, so parallel tests sharing one emulator
// never see each other's resources.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// SentEmail is a message the emulator accepted through SES.
type SentEmail struct {
	ID      string
	From    string
	To      []string
	Subject string
	// Body is what the emulator kept of the content: moto keeps the HTML part when there is
	// one; LocalStack keeps both, and Body is its HTML part then too.
	Body string
}

// SentEmails lists the messages the emulator accepted, read from LocalStack's
// /_aws/ses endpoint or moto's /moto-api/data.json.
func SentEmails(t testing.TB) []SentEmail {
	t.Helper()
	ep := strings.TrimSuffix(Endpoint(t), "/")
	client := &http.Client{Timeout: 10 * time.Second}
	if resp, err := client.Get(ep + "/_aws/ses"); err == nil {
		defer resp.Body.Close()
		var ls struct {
			Messages []struct {
				ID          string `json:"Id"`
				Source      string `json:"Source"`
				Subject     string `json:"Subject"`
				Destination struct {
					ToAddresses []string `json:"ToAddresses"`
				} `json:"Destination"`
				Body struct {
					Text string `json:"text_part"`
					HTML string `json:"html_part"`
				} `json:"Body"`
			} `json:"messages"`
		}
		if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&ls) == nil && ls.Messages != nil {
			out := make([]SentEmail, 0, len(ls.Messages))
			for _, m := range ls.Messages {
				body := m.Body.HTML
				if body == "" {
					body = m.Body.Text
				}
				out = append(out, SentEmail{ID: m.ID, From: m.Source, To: m.Destination.ToAddresses, Subject: m.Subject, Body: body})
			}
			return out
		}
	}
	// moto renders every service's models at once, and a model another test changes while
	// it does (an EventBridge rule added) fails that one rendering with a 500: read again.
	var resp *http.Response
	for attempt := 1; ; attempt++ {
		var err error
		if resp, err = client.Get(ep + "/moto-api/data.json"); err != nil {
			t.Fatalf("awstest: read sent e-mail: %v", err)
		}
		if resp.StatusCode == http.StatusOK || attempt == 5 {
			break
		}
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond)
	}
	defer resp.Body.Close()
	var moto struct {
		SES struct {
			Message []struct {
				ID           string `json:"id"`
				Source       string `json:"source"`
				Subject      string `json:"subject"`
				Body         string `json:"body"`
				Destinations struct {
					ToAddresses []string `json:"ToAddresses"`
				} `json:"destinations"`
			} `json:"Message"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&moto); err != nil {
		t.Fatalf("awstest: decode moto data: %v", err)
	}
	out := make([]SentEmail, 0, len(moto.SES.Message))
	for _, m := range moto.SES.Message {
		out = append(out, SentEmail{ID: m.ID, From: m.Source, To: m.Destinations.ToAddresses, Subject: m.Subject, Body: m.Body})
	}
	return out
}

// SentTo returns the messages sent to address.
func SentTo(t testing.TB, address string) []SentEmail {
	t.Helper()
	var out []SentEmail
	for _, m := range SentEmails(t) {
		for _, to := range m.To {
			if strings.EqualFold(to, address) {
				out = append(out, m)
			}
		}
	}
	return out
}

// StateMachine creates a Standard state machine with definition in the emulator, under a
// name of the test's own, and deletes it when the test ends. Executions of it stay RUNNING
// until stopped (moto does not run definitions), which is what tests of starting, finding
// and stopping executions need.
func StateMachine(t testing.TB, definition string) (*sfn.Client, string) {
	t.Helper()
	api := sfn.NewFromConfig(Config(t))
	out, err := api.CreateStateMachine(context.Background(), &sfn.CreateStateMachineInput{
		Name:       aws.String(UniqueName("tenant-provisioning")),
		Definition: aws.String(definition),
		RoleArn:    aws.String("arn:aws:iam::123456789012:role/tenant-provisioning-state-machine"),
	})
	if err != nil {
		t.Fatalf("awstest: CreateStateMachine in the AWS API emulator: %v", err)
	}
	arn := aws.ToString(out.StateMachineArn)
	t.Cleanup(func() {
		// The test's context is already cancelled when cleanups run.
		_, _ = api.DeleteStateMachine(context.Background(), &sfn.DeleteStateMachineInput{StateMachineArn: &arn})
	})
	return api, arn
}

// NewAuditChain makes, in the emulator, what the template makes for the audit trail: a
// signing key and an Object Lock bucket in compliance mode (auditchain.CreateLocal), new
// ones on each call, kept a day.
func NewAuditChain(t testing.TB) config.AuditChain {
	t.Helper()
	cfg := Config(t)
	ac, err := auditchain.CreateLocal(context.Background(), kms.NewFromConfig(cfg),
		s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }), UniqueName("audit-digests"), 1)
	if err != nil {
		t.Fatalf("awstest: %v", err)
	}
	return ac
}
