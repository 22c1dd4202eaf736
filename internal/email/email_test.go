package email

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/healthstack/tenant-provisioning/internal/fault"
	"github.com/healthstack/tenant-provisioning/internal/testkit/awstest"
)

// recordingClient is the real SES v2 client, pointed at the emulator, with a middleware
// that keeps the last request's input and counts requests: it observes, it answers nothing.
type recording struct {
	in    *sesv2.SendEmailInput
	calls int
}

func recordingClient(t *testing.T) (*sesv2.Client, *recording) {
	t.Helper()
	rec := &recording{}
	client := sesv2.NewFromConfig(awstest.Config(t), func(o *sesv2.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("record",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if send, ok := in.Parameters.(*sesv2.SendEmailInput); ok {
						rec.in, rec.calls = send, rec.calls+1
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
		})
	})
	return client, rec
}

const fromAddress = "no-reply@health.example"

func TestSendBuildsRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		configurationSet string
		msg              Message
	}{
		{"text and HTML", "", Message{To: adminAddress, Subject: "Hello", Text: "plain", HTML: "<p>rich</p>"}},
		{"configuration set", "tenant-mail", Message{To: adminAddress, Subject: "Hello", Text: "plain", HTML: "<p>rich</p>"}},
		{"text only", "", Message{To: adminAddress, Subject: "Hello", Text: "plain"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, api := recordingClient(t)
			from := verifiedSender(t, client)
			msg := c.msg
			msg.To = uniqueAddress("admin")
			id, err := NewSender(client, from, c.configurationSet).Send(t.Context(), msg)
			if err != nil || id == "" {
				t.Fatalf("Send = %q, %v", id, err)
			}
			c.msg.To = msg.To
			in := api.in
			if got := aws.ToString(in.FromEmailAddress); got != from {
				t.Errorf("FromEmailAddress = %q", got)
			}
			if got := in.Destination.ToAddresses; len(got) != 1 || got[0] != c.msg.To {
				t.Errorf("ToAddresses = %v", got)
			}
			if in.Destination.CcAddresses != nil || in.Destination.BccAddresses != nil {
				t.Errorf("unexpected Cc/Bcc: %+v", in.Destination)
			}
			if got := aws.ToString(in.ConfigurationSetName); got != c.configurationSet {
				t.Errorf("ConfigurationSetName = %q, want %q", got, c.configurationSet)
			}
			simple := in.Content.Simple
			if simple == nil || in.Content.Raw != nil || in.Content.Template != nil {
				t.Fatalf("Content is not Simple: %+v", in.Content)
			}
			if aws.ToString(simple.Subject.Data) != c.msg.Subject || aws.ToString(simple.Subject.Charset) != "UTF-8" {
				t.Errorf("Subject = %q (%q)", aws.ToString(simple.Subject.Data), aws.ToString(simple.Subject.Charset))
			}
			if aws.ToString(simple.Body.Text.Data) != c.msg.Text || aws.ToString(simple.Body.Text.Charset) != "UTF-8" {
				t.Errorf("Body.Text = %+v", simple.Body.Text)
			}
			switch {
			case c.msg.HTML == "" && simple.Body.Html != nil:
				t.Errorf("Body.Html sent for a text-only message")
			case c.msg.HTML != "" && (aws.ToString(simple.Body.Html.Data) != c.msg.HTML || aws.ToString(simple.Body.Html.Charset) != "UTF-8"):
				t.Errorf("Body.Html = %+v", simple.Body.Html)
			}
		})
	}
}

func TestSendRefusesBeforeCallingSES(t *testing.T) {
	t.Parallel()
	complete := Message{To: adminAddress, Subject: "Hello", Text: "plain"}
	cases := []struct {
		name   string
		from   string
		msg    Message
		want   string
		fields []string
	}{
		{"no fromAddress configured", "", complete, "ConfigError", nil},
		{"no recipient", fromAddress, Message{Subject: "Hello", Text: "plain"}, "ValidationError", []string{"to"}},
		{"no subject", fromAddress, Message{To: adminAddress, HTML: "<p>x</p>"}, "ValidationError", []string{"subject"}},
		{"no body", fromAddress, Message{To: adminAddress, Subject: "Hello"}, "ValidationError", []string{"body"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			client, api := recordingClient(t)
			_, err := NewSender(client, c.from, "").Send(t.Context(), c.msg)
			if fault.Name(err) != c.want {
				t.Fatalf("err = %v (%s), want %s", err, fault.Name(err), c.want)
			}
			if api.calls != 0 {
				t.Errorf("SES called %d times", api.calls)
			}
			var ve *fault.ValidationError
			if errors.As(err, &ve) {
				var got []string
				for _, f := range ve.Fields {
					got = append(got, f.Field)
				}
				if strings.Join(got, ",") != strings.Join(c.fields, ",") {
					t.Errorf("fields = %v, want %v", got, c.fields)
				}
			}
			if strings.Contains(err.Error(), "@") {
				t.Errorf("error names an address: %v", err)
			}
		})
	}
}

// TestSendClassifiesErrors pins the code table Send applies (TestSendFromUnverifiedSender
// shows Send applying it to a real rejection). The errors are built the way the SDK builds
// them (an API error inside an OperationError), with a service message quoting addresses as
// SES does, which must not reach Error().
func TestSendClassifiesErrors(t *testing.T) {
	t.Parallel()
	apiErr := func(code string, f smithy.ErrorFault) error {
		return &smithy.OperationError{ServiceID: "SESv2", OperationName: "SendEmail", Err: &smithy.GenericAPIError{
			Code: code, Message: "Email address not verified " + fromAddress + ", " + adminAddress, Fault: f,
		}}
	}
	cases := []struct {
		code  string
		fault smithy.ErrorFault
		want  string
	}{
		{"TooManyRequestsException", smithy.FaultClient, "TransientError"},
		{"LimitExceededException", smithy.FaultClient, "TransientError"},
		{"MessageRejected", smithy.FaultClient, "ConfigError"},
		{"MailFromDomainNotVerifiedException", smithy.FaultClient, "ConfigError"},
		{"AccountSuspendedException", smithy.FaultClient, "ConfigError"},
		{"SendingPausedException", smithy.FaultClient, "ConfigError"},
		{"NotFoundException", smithy.FaultClient, "ConfigError"},
		{"AccessDeniedException", smithy.FaultClient, "ConfigError"},
		{"BadRequestException", smithy.FaultClient, "ValidationError"},
		{"ThrottlingException", smithy.FaultClient, "TransientError"},
		{"InternalServiceErrorException", smithy.FaultServer, "TransientError"},
		{"SomethingBroke", smithy.FaultServer, "TransientError"},
		{"UnheardOfException", smithy.FaultClient, "InvariantError"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			t.Parallel()
			err := fault.FromAWS(opSend, apiErr(c.code, c.fault), sendCodes)
			if fault.Name(err) != c.want {
				t.Fatalf("err = %v (%s), want %s", err, fault.Name(err), c.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "send e-mail: ") || !strings.Contains(msg, c.code) {
				t.Errorf("Error() = %q, want the operation and the code", msg)
			}
			for _, leak := range []string{"@", token, "not verified"} {
				if strings.Contains(msg, leak) {
					t.Errorf("Error() repeats %q: %q", leak, msg)
				}
			}
		})
	}
}
