package asl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// intrinsic is one of Step Functions' intrinsic functions (all of those of JSONPath mode).
type intrinsic struct {
	min, max int                 // argument count; max -1 is unbounded
	check    func(c *call) error // load-time checks of literal arguments
	run      func(c *call, args []any) (any, error)
}

func (f intrinsic) arity() string {
	switch {
	case f.max < 0:
		return fmt.Sprintf("at least %d arguments", f.min)
	case f.min == f.max:
		return fmt.Sprintf("%d arguments", f.min)
	}
	return fmt.Sprintf("%d to %d arguments", f.min, f.max)
}

// Limits Step Functions documents for its intrinsic functions.
const (
	maxArrayRange    = 1000
	maxStringArgSize = 10000
)

var intrinsics = map[string]intrinsic{
	"States.Format":         {min: 1, max: -1, check: checkFormat, run: runFormat},
	"States.StringToJson":   {min: 1, max: 1, run: runStringToJSON},
	"States.JsonToString":   {min: 1, max: 1, run: func(_ *call, a []any) (any, error) { return string(encodeJSON(a[0])), nil }},
	"States.Array":          {min: 0, max: -1, run: func(_ *call, a []any) (any, error) { return append([]any{}, a...), nil }},
	"States.ArrayPartition": {min: 2, max: 2, run: runArrayPartition},
	"States.ArrayContains": {min: 2, max: 2, run: func(_ *call, a []any) (any, error) {
		arr, err := argArray(a, 0)
		if err != nil {
			return nil, err
		}
		for _, e := range arr {
			if jsonEqual(e, a[1]) {
				return true, nil
			}
		}
		return false, nil
	}},
	"States.ArrayRange": {min: 3, max: 3, run: runArrayRange},
	"States.ArrayGetItem": {min: 2, max: 2, run: func(_ *call, a []any) (any, error) {
		arr, err := argArray(a, 0)
		if err != nil {
			return nil, err
		}
		i, err := argInt(a, 1)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(arr)) {
			return nil, fmt.Errorf("index %d is out of bounds for an array of %d", i, len(arr))
		}
		return arr[i], nil
	}},
	"States.ArrayLength": {min: 1, max: 1, run: func(_ *call, a []any) (any, error) {
		arr, err := argArray(a, 0)
		if err != nil {
			return nil, err
		}
		return number(int64(len(arr))), nil
	}},
	"States.ArrayUnique": {min: 1, max: 1, run: func(_ *call, a []any) (any, error) {
		arr, err := argArray(a, 0)
		if err != nil {
			return nil, err
		}
		out := []any{}
	next:
		for _, e := range arr {
			for _, seen := range out {
				if jsonEqual(e, seen) {
					continue next
				}
			}
			out = append(out, e)
		}
		return out, nil
	}},
	"States.Base64Encode": {min: 1, max: 1, run: func(_ *call, a []any) (any, error) {
		s, err := limitedString(a, 0)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	}},
	"States.Base64Decode": {min: 1, max: 1, run: func(_ *call, a []any) (any, error) {
		s, err := limitedString(a, 0)
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("invalid base64: %v", err)
		}
		return string(b), nil
	}},
	"States.Hash":       {min: 2, max: 2, run: runHash},
	"States.JsonMerge":  {min: 3, max: 3, check: checkJSONMerge, run: runJSONMerge},
	"States.MathRandom": {min: 2, max: 3, run: runMathRandom},
	"States.MathAdd":    {min: 2, max: 2, run: runMathAdd},
	"States.StringSplit": {min: 2, max: 2, run: func(_ *call, a []any) (any, error) {
		s, err := argString(a, 0)
		if err != nil {
			return nil, err
		}
		delims, err := argString(a, 1)
		if err != nil {
			return nil, err
		}
		// Every character of the second argument separates; empty pieces are dropped.
		out := []any{}
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) }) {
			out = append(out, f)
		}
		return out, nil
	}},
	"States.UUID": {min: 0, max: 0, run: func(*call, []any) (any, error) { return uuid.NewString(), nil }},
}

func argString(a []any, i int) (string, error) {
	s, ok := a[i].(string)
	if !ok {
		return "", fmt.Errorf("argument %d must be a string, not %s", i+1, jsonKind(a[i]))
	}
	return s, nil
}

// limitedString is a string argument of the functions Step Functions limits to 10,000
// characters (the Base64 and Hash functions).
func limitedString(a []any, i int) (string, error) {
	s, err := argString(a, i)
	if err == nil && utf8.RuneCountInString(s) > maxStringArgSize {
		err = fmt.Errorf("argument %d is longer than %d characters", i+1, maxStringArgSize)
	}
	return s, err
}

func argInt(a []any, i int) (int64, error) {
	n, ok := integer(a[i])
	if !ok {
		return 0, fmt.Errorf("argument %d must be an integer, not %s", i+1, encodeJSON(a[i]))
	}
	return n, nil
}

func argArray(a []any, i int) ([]any, error) {
	arr, ok := a[i].([]any)
	if !ok {
		return nil, fmt.Errorf("argument %d must be an array, not %s", i+1, jsonKind(a[i]))
	}
	return arr, nil
}

// formatTemplate replaces each {} of t with the next argument. Escapes (\{ \} \' \\) only
// exist in a template written as a literal; a template read from a path is taken as is.
func formatTemplate(t string, escapes bool, args []any) (string, int, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case escapes && c == '\\' && i+1 < len(t):
			i++
			b.WriteByte(t[i])
		case c == '{' && i+1 < len(t) && t[i+1] == '}':
			i++
			if args != nil {
				if n >= len(args) {
					return "", 0, fmt.Errorf("the template has more placeholders than the %d arguments", len(args))
				}
				s, err := formatArg(args[n])
				if err != nil {
					return "", 0, fmt.Errorf("argument %d: %v", n+2, err)
				}
				b.WriteString(s)
			}
			n++
		default:
			b.WriteByte(c)
		}
	}
	if args != nil && n != len(args) {
		return "", 0, fmt.Errorf("the template has %d placeholders for %d arguments", n, len(args))
	}
	return b.String(), n, nil
}

func formatArg(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return string(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "null", nil
	}
	return "", fmt.Errorf("cannot format %s (use States.JsonToString)", jsonKind(v))
}

func checkFormat(c *call) error {
	l, ok := c.args[0].(*literal)
	if !ok {
		return nil
	}
	if _, ok := l.v.(string); !ok {
		return errors.New("the template must be a string")
	}
	_, n, _ := formatTemplate(l.raw, true, nil)
	if n != len(c.args)-1 {
		return fmt.Errorf("the template has %d placeholders for %d arguments", n, len(c.args)-1)
	}
	return nil
}

func runFormat(c *call, a []any) (any, error) {
	t, ok := a[0].(string)
	if !ok {
		return nil, errors.New("the template must be a string")
	}
	escapes := false
	if l, ok := c.args[0].(*literal); ok {
		t, escapes = l.raw, true
	}
	s, _, err := formatTemplate(t, escapes, append([]any{}, a[1:]...))
	if err != nil {
		return nil, err
	}
	return s, nil
}

func runStringToJSON(_ *call, a []any) (any, error) {
	s, ok := a[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument 1 must be a string, not %s", jsonKind(a[0]))
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	return v, nil
}

func runArrayPartition(_ *call, a []any) (any, error) {
	arr, err := argArray(a, 0)
	if err != nil {
		return nil, err
	}
	size, err := argInt(a, 1)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("the chunk size must be positive, not %d", size)
	}
	out := []any{}
	for len(arr) > 0 {
		n := int(min(size, int64(len(arr))))
		out = append(out, append([]any{}, arr[:n]...))
		arr = arr[n:]
	}
	return out, nil
}

func runArrayRange(_ *call, a []any) (any, error) {
	var v [3]int64
	for i := range v {
		n, err := argInt(a, i)
		if err != nil {
			return nil, err
		}
		v[i] = n
	}
	start, end, step := v[0], v[1], v[2]
	if step == 0 {
		return nil, errors.New("the step must not be 0")
	}
	out := []any{}
	for i := start; (step > 0 && i <= end) || (step < 0 && i >= end); i += step {
		if len(out) == maxArrayRange {
			return nil, fmt.Errorf("the range has more than %d elements", maxArrayRange)
		}
		out = append(out, number(i))
	}
	return out, nil
}

func runHash(_ *call, a []any) (any, error) {
	data, err := limitedString(a, 0)
	if err != nil {
		return nil, err
	}
	alg, ok := a[1].(string)
	if !ok {
		return nil, fmt.Errorf("argument 2 must be a string, not %s", jsonKind(a[1]))
	}
	var h hash.Hash
	switch alg {
	case "MD5":
		h = md5.New()
	case "SHA-1":
		h = sha1.New()
	case "SHA-256":
		h = sha256.New()
	case "SHA-384":
		h = sha512.New384()
	case "SHA-512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("unknown algorithm %q (MD5, SHA-1, SHA-256, SHA-384 or SHA-512)", alg)
	}
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Step Functions only implements the shallow merge: the third argument must be false.
func checkJSONMerge(c *call) error {
	if l, ok := c.args[2].(*literal); ok && l.v != false {
		return errors.New("only the shallow merge is supported: the third argument must be false")
	}
	return nil
}

func runJSONMerge(_ *call, a []any) (any, error) {
	if a[2] != false {
		return nil, errors.New("only the shallow merge is supported: the third argument must be false")
	}
	out := map[string]any{}
	for i := range 2 {
		m, ok := a[i].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("argument %d must be an object, not %s", i+1, jsonKind(a[i]))
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

func runMathRandom(_ *call, a []any) (any, error) {
	start, err := argInt(a, 0)
	if err != nil {
		return nil, err
	}
	end, err := argInt(a, 1)
	if err != nil {
		return nil, err
	}
	if start >= end {
		return nil, fmt.Errorf("the start %d must be less than the end %d", start, end)
	}
	r := rand.Int64N
	if len(a) == 3 {
		seed, err := argInt(a, 2)
		if err != nil {
			return nil, err
		}
		r = rand.New(rand.NewPCG(uint64(seed), 0)).Int64N
	}
	return number(start + r(end-start)), nil
}

// runMathAdd adds two numbers in Step Functions' 32-bit range, rounding non-integers to the
// nearest integer first as its documentation says.
func runMathAdd(_ *call, a []any) (any, error) {
	var sum int64
	for i := range 2 {
		n, ok := a[i].(json.Number)
		if !ok {
			return nil, fmt.Errorf("argument %d must be a number, not %s", i+1, jsonKind(a[i]))
		}
		f, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("argument %d: %v", i+1, err)
		}
		f = math.Round(f)
		if f < math.MinInt32 || f > math.MaxInt32 {
			return nil, fmt.Errorf("argument %d is outside %d..%d", i+1, math.MinInt32, math.MaxInt32)
		}
		sum += int64(f)
	}
	if sum < math.MinInt32 || sum > math.MaxInt32 {
		return nil, fmt.Errorf("the sum %d is outside %d..%d", sum, math.MinInt32, math.MaxInt32)
	}
	return number(sum), nil
}
