package linqfake_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bulksync/bulksync/gen/linq"
	"github.com/bulksync/bulksync/internal/linqfake"
)

func TestSeedCSV(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    []linq.ContactCard
		wantErr string
	}{
		{
			name: "all columns",
			csv: "phone_number,first_name,last_name,image_url,is_active\n" +
				"+14155550102,Grace,Hopper,https://cdn.linqapp.com/contact-card/g.jpg,true\n" +
				"+14155550101,Ada,,,false\n",
			want: []linq.ContactCard{
				card(ada, "Ada", "", "", false),
				card(grace, "Grace", "Hopper", "https://cdn.linqapp.com/contact-card/g.jpg", true),
			},
		},
		{
			name: "BOM, CRLF, other order, no is_active",
			csv:  "\ufefffirst_name,phone_number\r\n\"Ada, Countess\",+14155550101\r\n",
			want: []linq.ContactCard{card(ada, "Ada, Countess", "", "", true)},
		},
		{
			name: "blank is_active is true",
			csv:  "phone_number,first_name,is_active\n+14155550101,Ada,\n",
			want: []linq.ContactCard{card(ada, "Ada", "", "", true)},
		},
		{name: "empty file", csv: "", wantErr: "empty file"},
		{name: "unknown column", csv: "phone_number,first_name,nick\n", wantErr: `line 1: unknown column "nick"`},
		{name: "missing first_name column", csv: "phone_number,last_name\n", wantErr: `missing column "first_name"`},
		{name: "column twice", csv: "phone_number,first_name,first_name\n", wantErr: `column "first_name" appears twice`},
		{name: "bad number", csv: "phone_number,first_name\n+14155550101,Ada\n415-555-0102,Grace\n", wantErr: `line 3: phone_number "415-555-0102" is not E.164`},
		{name: "second card", csv: "phone_number,first_name\n+14155550101,Ada\n+14155550101,Ada\n", wantErr: "line 3: a second card for +14155550101"},
		{name: "second card before a bad line", csv: "phone_number,first_name\n+14155550101,Ada\n+14155550101,Ada\n+14155550102,\n", wantErr: "line 3: a second card for +14155550101"},
		{name: "second card after a bad line", csv: "phone_number,first_name\n+14155550101,Ada\n+14155550102,\n+14155550101,Ada\n", wantErr: "line 3: first_name is empty"},
		{name: "no first name", csv: "phone_number,first_name\n+14155550101,\n", wantErr: "line 2: first_name is empty"},
		{name: "bad is_active", csv: "phone_number,first_name,is_active\n+14155550101,Ada,yes\n", wantErr: `line 2: is_active "yes"`},
		{name: "ragged row", csv: "phone_number,first_name\n+14155550101,Ada,extra\n", wantErr: "wrong number of fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := linqfake.New(linqfake.Options{})
			err := fake.SeedCSV(strings.NewReader(tc.csv))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				if got := fake.Cards(); len(got) != 0 {
					t.Errorf("a failed seed stored %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fake.Cards(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// PutCard replaces a card behind the client's back, as a manual edit in
// Linq's dashboard would.
func TestPutCardReplaces(t *testing.T) {
	fake := linqfake.New(linqfake.Options{})
	fake.PutCard(card(ada, "Ada", "Lovelace", "", true))
	fake.PutCard(card(ada, "Augusta", "", "", false))
	got, ok := fake.Card(ada)
	if want := card(ada, "Augusta", "", "", false); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if _, ok := fake.Card(grace); ok {
		t.Errorf("Card found a number never stored")
	}
}

func TestReadLines(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		want       []string
		reputation map[string]string
		wantErr    string
	}{
		{name: "numbers, comments, blanks, CRLF", input: "\ufeff# lines\r\n+14155550101\r\n\r\n  +14155550102  \n", want: []string{ada, grace}, reputation: map[string]string{}},
		{name: "statuses", input: "+14155550101 HEALTHY\n+14155550102 AT_RISK\n+14155550103\tFLAGGED\n", want: []string{ada, grace, alan}, reputation: map[string]string{grace: "AT_RISK", alan: "FLAGGED"}},
		{name: "empty", input: "", want: []string{}, reputation: map[string]string{}},
		{name: "not E.164", input: "+14155550101\n4155550102\n", wantErr: `line 2: "4155550102" is not an E.164 phone number`},
		{name: "too many words", input: "+14155550101 AT RISK\n", wantErr: `line 1: want a phone number and at most a status, such as "+14155550101 AT_RISK"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reputation, err := linqfake.ReadLines(strings.NewReader(tc.input))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(reputation, tc.reputation) {
				t.Errorf("got %q %v, %v; want %q %v", got, reputation, err, tc.want, tc.reputation)
			}
		})
	}
}
