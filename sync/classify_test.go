package sync

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		status, code int
		create       bool
		want         Class
	}{
		{200, 0, false, ClassOK},
		{201, 0, true, ClassOK},
		{0, 0, false, ClassTransient},
		{429, 1007, false, ClassThrottled},
		{429, 0, false, ClassThrottled},
		{500, 3006, false, ClassTransient},
		{503, 4004, false, ClassTransient},
		{500, 2022, true, ClassTransient},
		{502, 0, false, ClassTransient},
		{504, 3005, false, ClassTransient},
		{401, 2004, false, ClassFatal},
		{403, 2005, false, ClassFatal},
		{403, 2006, true, ClassFatal},
		{401, 0, false, ClassFatal},
		{409, 2014, true, ClassConflict},
		{409, 2014, false, ClassPermanent},
		{400, 1001, true, ClassPermanent},
		{400, 1002, false, ClassPermanent},
		{400, 1003, false, ClassPermanent},
		{400, 1005, false, ClassPermanent},
		{404, 2012, false, ClassPermanent},
		{400, 5007, false, ClassPermanent},
		{418, 0, false, ClassPermanent},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.code, tt.create); got != tt.want {
			t.Errorf("Classify(%d, %d, create=%v) = %v, want %v", tt.status, tt.code, tt.create, got, tt.want)
		}
	}
}
