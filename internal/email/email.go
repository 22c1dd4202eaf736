// Package email renders the tenant lifecycle e-mails (welcome, failure notice, operations
// alert) and sends them through Amazon SES v2. Messages carry personal data and single-use
// activation tokens, so nothing here logs, and errors name fields and operations, never values.
package email

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// API is the part of the SES v2 client Sender uses; *sesv2.Client implements it.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Message is one e-mail, ready to send.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// LogValue keeps the recipient and the bodies (which hold names and activation tokens) out of
// logs even when a whole Message is logged by mistake. The subject stays because it tells which
// e-mail it was; subjects name the tenant (an organisation), never a person, and the template
// tests hold them to that.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("subject", m.Subject),
		slog.Int("textBytes", len(m.Text)),
		slog.Int("htmlBytes", len(m.HTML)),
	)
}

// Sender sends Messages from one verified SES identity.
type Sender struct {
	api              API
	from             string
	configurationSet string
}

// NewSender returns a Sender that sends from the address from, which must be (or belong to a
// domain that is) a verified SES identity. configurationSet may be empty; when set, SES
// publishes the sending events (bounces, complaints) through it.
func NewSender(api API, from, configurationSet string) *Sender {
	return &Sender{api: api, from: from, configurationSet: configurationSet}
}

const opSend = "send e-mail"

// sendCodes classifies SendEmail's own errors. Rejections of the sender identity or account are
// configuration problems: the state machine should not retry them, and an operator has to act.
var sendCodes = map[string]fault.Kind{
	"TooManyRequestsException":           fault.KindTransient,
	"LimitExceededException":             fault.KindTransient,
	"MessageRejected":                    fault.KindConfig,
	"MailFromDomainNotVerifiedException": fault.KindConfig,
	"AccountSuspendedException":          fault.KindConfig,
	"SendingPausedException":             fault.KindConfig,
	"BadRequestException":                fault.KindValidation,
	"NotFoundException":                  fault.KindConfig, // e.g. the configuration set is missing
	"AccessDeniedException":              fault.KindConfig, // the role may not send from this identity
}

const charset = "UTF-8"

// Send sends m and returns the SES message id. Errors are fault classes whose text names the
// operation and the SES error code only: SES messages quote the addresses involved.
func (s *Sender) Send(ctx context.Context, m Message) (messageID string, err error) {
	if s.from == "" {
		return "", &fault.ConfigError{Op: opSend, Msg: "sender address is not configured"}
	}
	if err := m.validate(); err != nil {
		return "", err
	}
	body := &types.Body{}
	if m.Text != "" {
		body.Text = &types.Content{Data: aws.String(m.Text), Charset: aws.String(charset)}
	}
	if m.HTML != "" {
		body.Html = &types.Content{Data: aws.String(m.HTML), Charset: aws.String(charset)}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String(charset)},
			Body:    body,
		}},
	}
	if s.configurationSet != "" {
		in.ConfigurationSetName = aws.String(s.configurationSet)
	}
	out, err := s.api.SendEmail(ctx, in)
	if err != nil {
		return "", fault.FromAWS(opSend, err, sendCodes)
	}
	return aws.ToString(out.MessageId), nil
}

// validate catches a Message SES would reject anyway, before it costs a call and quota.
func (m Message) validate() error {
	var errs []fault.FieldError
	if m.To == "" {
		errs = append(errs, fault.FieldError{Field: "to", Message: "is required"})
	}
	if m.Subject == "" {
		errs = append(errs, fault.FieldError{Field: "subject", Message: "is required"})
	}
	if m.Text == "" && m.HTML == "" {
		errs = append(errs, fault.FieldError{Field: "body", Message: "needs a text or an HTML part"})
	}
	if errs != nil {
		return &fault.ValidationError{Op: opSend, Fields: errs}
	}
	return nil
}
