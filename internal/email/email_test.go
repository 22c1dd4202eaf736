package email

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// fakeSES records the request and answers with err, or with a message id.
type fakeSES struct {
	in    *sesv2.SendEmailInput
	calls int
	err   error
}

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in, f.calls = in, f.calls+1
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("0100018f-msg")}, nil
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
			api := &fakeSES{}
			id, err := NewSender(api, fromAddress, c.configurationSet).Send(t.Context(), c.msg)
			if err != nil || id != "0100018f-msg" {
				t.Fatalf("Send = %q, %v", id, err)
			}
			in := api.in
			if got := aws.ToString(in.FromEmailAddress); got != fromAddress {
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
			api := &fakeSES{}
			_, err := NewSender(api, c.from, "").Send(t.Context(), c.msg)
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

// TestSendClassifiesErrors pins the code table. The errors are built the way the SDK builds
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
			_, err := NewSender(&fakeSES{err: apiErr(c.code, c.fault)}, fromAddress, "").Send(t.Context(),
				Message{To: adminAddress, Subject: "Hello", Text: "token " + token})
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
