package email

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
)

// uniqueAddress gives each test its own mailbox on its own domain, so tests sharing one
// emulator neither read each other's mail nor verify each other's senders by domain.
func uniqueAddress(local string) string {
	return awstest.UniqueName(local) + "@" + awstest.UniqueName("mail") + ".example.org"
}

// verifiedSender creates (and, in the emulator, thereby verifies) a fresh sender identity.
func verifiedSender(t *testing.T, client *sesv2.Client) string {
	t.Helper()
	from := uniqueAddress("no-reply")
	if _, err := client.CreateEmailIdentity(t.Context(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatalf("create sender identity: %v", err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteEmailIdentity(context.Background(), &sesv2.DeleteEmailIdentityInput{EmailIdentity: aws.String(from)})
	})
	return from
}

func TestSendThroughSES(t *testing.T) {
	t.Parallel()
	client := sesv2.NewFromConfig(awstest.Config(t))
	from := verifiedSender(t, client)
	s := NewSender(client, from, "")
	cases := []struct {
		name  string
		build func(to string) (Message, error)
		body  []string // moto keeps the HTML part
	}{
		{
			name:  "welcome",
			build: func(to string) (Message, error) { return WelcomeMessage(to, welcome()) },
			body:  []string{evilTenantHTML, "Hello " + evilFirstHTML, `href="` + activationHTML + `"`, "2 January 2027 15:04 UTC"},
		},
		{
			name:  "failure notice",
			build: func(to string) (Message, error) { return FailureNoticeMessage(to, failureNotice()) },
			body:  []string{evilTenantHTML, "Hello " + evilFirstHTML, referenceID},
		},
		{
			name:  "operations failure",
			build: func(to string) (Message, error) { return OpsFailureMessage(to, opsFailure()) },
			body:  []string{evilTenantHTML, "CreateSchema", "SQLSTATE 42P07 &lt;duplicate&gt;"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			to := uniqueAddress("admin")
			m, err := c.build(to)
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			id, err := s.Send(t.Context(), m)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if id == "" {
				t.Error("Send returned no message id")
			}
			sent := awstest.SentTo(t, to)
			if len(sent) != 1 {
				t.Fatalf("emulator holds %d messages for the recipient, want 1", len(sent))
			}
			got := sent[0]
			if got.ID != id || got.From != from || got.Subject != m.Subject {
				t.Errorf("sent id=%q from=%q subject=%q, want %q, %q, %q", got.ID, got.From, got.Subject, id, from, m.Subject)
			}
			for _, s := range c.body {
				if !strings.Contains(got.Body, s) {
					t.Errorf("body lacks %q:\n%s", s, got.Body)
				}
			}
			if strings.Contains(got.Body, "<script>") {
				t.Errorf("body carries an unescaped <script>:\n%s", got.Body)
			}
		})
	}
}

// TestSendFromUnverifiedSender is the misconfiguration a new environment hits first. It must
// surface as a permanent ConfigError whose text does not repeat SES's message, which quotes the
// sender address.
func TestSendFromUnverifiedSender(t *testing.T) {
	t.Parallel()
	client := sesv2.NewFromConfig(awstest.Config(t))
	from, to := uniqueAddress("unverified"), uniqueAddress("admin")
	m, err := WelcomeMessage(to, welcome())
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSender(client, from, "").Send(t.Context(), m)
	if fault.Name(err) != "ConfigError" {
		t.Fatalf("err = %v (%s), want ConfigError", err, fault.Name(err))
	}
	var ce *fault.ConfigError
	if !errors.As(err, &ce) || ce.Err == nil {
		t.Errorf("the SDK error is not kept as the cause: %#v", err)
	}
	for _, leak := range []string{"@", from, to, token, "Zoë"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("Error() repeats %q: %q", leak, err.Error())
		}
	}
	if sent := awstest.SentTo(t, to); len(sent) != 0 {
		t.Errorf("emulator accepted %d messages from an unverified sender", len(sent))
	}
}
