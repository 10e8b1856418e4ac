package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/bulksync/bulksync/gen/linq"
)

// The hand-written bodies must be exactly what json.Marshal writes for the
// generated types, whatever the strings hold.
func TestBodiesMatchMarshal(t *testing.T) {
	strs := []string{"", "Ada", "O'Brien", `say "hi"`, `back\slash`, "tab\there", "nl\n", "\x00\x1f",
		"<b>&amp;</b>", "a<b", "a>b", "a&b", "Zoë", "日本", "\u2028\u2029", "bad\xffutf8", "\xc3", "https://cdn.example/a.png?x=1&y=2"}
	ptr := func(s string) *string { return &s }
	for _, s := range strs {
		for _, b := range []linq.UpdateContactCardRequest{
			{FirstName: ptr(s)},
			{LastName: ptr(s)},
			{ImageUrl: ptr(s)},
			{FirstName: ptr(s), LastName: ptr("x"), ImageUrl: ptr(s)},
			{FirstName: ptr("x"), ImageUrl: ptr(s)},
			{},
		} {
			want, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := updateBody(b); string(got) != string(want) {
				t.Errorf("updateBody(%q) = %s, want %s", s, got, want)
			}
		}
		for _, b := range []linq.CreateContactCardRequest{
			{PhoneNumber: "+14155550100", FirstName: s},
			{PhoneNumber: s, FirstName: "x", LastName: ptr(s)},
			{PhoneNumber: "+14155550100", FirstName: s, LastName: ptr(s), ImageUrl: ptr(s)},
			{},
		} {
			want, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := createBody(b); string(got) != string(want) {
				t.Errorf("createBody(%q) = %s, want %s", s, got, want)
			}
		}
	}
}

// recordDoer keeps the requests it is given and answers 200.
type recordDoer struct{ reqs []*http.Request }

func (d *recordDoer) Do(req *http.Request) (*http.Response, error) {
	d.reqs = append(d.reqs, req)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// quickWrites must send what the generated calls send: method, URL, every
// header (the editors' too), length and body, for any server URL and number.
func TestQuickWritesMatchGenerated(t *testing.T) {
	phones := []string{"+14155550100", "14155550100", "+1 415 555 0100", "a&b=c#d", "%2B1", "日本", "x?y", ""}
	for _, server := range []string{"http://127.0.0.1:8080", "http://127.0.0.1:8080/", "https://api.example/prefix", "https://api.example/prefix/v1/"} {
		var doer recordDoer
		edit := func(ctx context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer k")
			return nil
		}
		extra := func(ctx context.Context, req *http.Request) error {
			req.Header.Set("X-Extra", req.URL.RawQuery)
			return nil
		}
		gen, err := linq.NewClient(server, linq.WithHTTPClient(&doer), linq.WithRequestEditorFn(edit))
		if err != nil {
			t.Fatal(err)
		}
		quick := withQuickWrites(gen)
		if _, ok := quick.(*quickWrites); !ok {
			t.Fatalf("%s: withQuickWrites did not wrap the generated client", server)
		}
		ctx := context.Background()
		for _, phone := range phones {
			body := []byte(`{"first_name":"A"}`)
			params := &linq.UpdateContactCardParams{PhoneNumber: phone}
			for _, c := range []linq.ClientInterface{gen, quick} {
				if _, err := c.UpdateContactCardWithBody(ctx, params, jsonType, bytes.NewReader(body), extra); err != nil {
					t.Fatal(err)
				}
				if _, err := c.CreateContactCardWithBody(ctx, jsonType, bytes.NewReader(body), extra); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := 0; i < len(doer.reqs); i += 4 {
			for j := range 2 {
				want, got := doer.reqs[i+j], doer.reqs[i+j+2]
				if got.Method != want.Method || got.URL.String() != want.URL.String() || got.Host != want.Host ||
					got.ContentLength != want.ContentLength || !reflect.DeepEqual(got.Header, want.Header) {
					t.Errorf("%s: quick %s %s %v (length %d), generated %s %s %v (length %d)", server,
						got.Method, got.URL, got.Header, got.ContentLength, want.Method, want.URL, want.Header, want.ContentLength)
				}
				gb, _ := io.ReadAll(got.Body)
				wb, _ := io.ReadAll(want.Body)
				if string(gb) != string(wb) || got.GetBody == nil {
					t.Errorf("%s %s: body %q (GetBody %v), want %q", server, got.URL, gb, got.GetBody != nil, wb)
				}
			}
		}
	}
}

// decodeSetCard reads an answer as the generated SetContactCard read
// through cardFromAPI would, error for error.
func TestDecodeSetCardMatchesGenerated(t *testing.T) {
	generated := func(body []byte) (*Card, error) {
		var sc linq.SetContactCard
		if err := json.Unmarshal(body, &sc); err != nil {
			return nil, err
		}
		if sc.PhoneNumber == "" || sc.FirstName == "" {
			return nil, errors.New("not a contact card")
		}
		c := cardFromAPI(sc.PhoneNumber, sc.FirstName, sc.LastName, sc.ImageUrl, sc.IsActive)
		return &c, nil
	}
	bodies := []string{
		`{"phone_number":"+14155550100","first_name":"Ada","last_name":"Lovelace","image_url":"https://cdn/x.png","is_active":true}`,
		`{"phone_number":"+14155550100","first_name":"Ada","is_active":true}`,
		`{"phone_number":"+14155550100","first_name":"Ada","last_name":null,"image_url":null,"is_active":false}`,
		`{"PHONE_NUMBER":"+14155550100","First_Name":"Ada","is_active":true,"extra":[1,2]}`,
		`{"phone_number":"+14155550100","first_name":"Ada","last_name":"A","last_name":"B"}`,
		`{"phone_number":"+14155550100","first_name":""}`,
		`{"phone_number":"","first_name":"Ada"}`,
		`{"phone_number":"+14155550100","first_name":"Ada","last_name":5}`,
		`{"phone_number":"+14155550100","first_name":"Ada","is_active":"yes"}`,
		`{"error":{"code":2001,"message":"no"}}`,
		`[]`, `null`, ``, `{`, `"x"`,
	}
	for _, b := range bodies {
		got, gotErr := decodeSetCard([]byte(b))
		want, wantErr := generated([]byte(b))
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeSetCard(%s) = %+v, %v; the generated type reads %+v, %v", b, got, gotErr, want, wantErr)
		}
	}
}

// The hand-written bodies know the generated types' fields by name: when
// openapi.yaml gives a request a new field, they must learn it rather than
// drop it silently. Every string field is set, by reflection, so a field
// the writers do not know makes the bodies differ from json.Marshal.
func TestBodiesCoverEveryField(t *testing.T) {
	fill := func(v any) {
		rv := reflect.ValueOf(v).Elem()
		for i := range rv.NumField() {
			f := rv.Field(i)
			s := "v" + rv.Type().Field(i).Name
			switch {
			case f.Kind() == reflect.String:
				f.SetString(s)
			case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.String:
				f.Set(reflect.ValueOf(&s))
			default:
				t.Fatalf("%s.%s is a %s: teach updateBody/createBody to write it", rv.Type(), rv.Type().Field(i).Name, f.Type())
			}
		}
	}
	var u linq.UpdateContactCardRequest
	fill(&u)
	if want, _ := json.Marshal(u); string(updateBody(u)) != string(want) {
		t.Errorf("updateBody = %s, json.Marshal = %s", updateBody(u), want)
	}
	var c linq.CreateContactCardRequest
	fill(&c)
	if want, _ := json.Marshal(c); string(createBody(c)) != string(want) {
		t.Errorf("createBody = %s, json.Marshal = %s", createBody(c), want)
	}
}
