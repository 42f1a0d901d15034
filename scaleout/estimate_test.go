package scaleout

import (
	"strings"
	"testing"
	"time"
)

// imagenetC is the study of the issue on paper: 48 models × 50,000 images × 15 corruptions × 5
// severities, clean predictions saved, the sweep's predictions not (save: false).
func imagenetC() Workload {
	const models, images, sweep = 48, 50000, 15 * 5
	return Workload{Models: models, ParallelModels: 4, UnitSize: 256, Stages: []StageCount{
		{ID: "images", Work: Decode, Instances: 1, Samples: images, Commits: true},
		{ID: "preds", Work: Infer, Instances: models, Samples: images, Commits: true, Saved: true, RowBytes: predictionRowBytes(1000)},
		{ID: "acc", Work: Fold, Instances: models, Samples: images, Commits: true},
		{ID: "corrupted", Work: Perturb, Instances: sweep, Samples: images},
		{ID: "corrupted_preds", Work: Infer, Instances: models * sweep, Samples: images},
		{ID: "corrupted_acc", Work: Fold, Instances: models * sweep, Samples: images, Commits: true},
	}}
}

func TestEstimateImageNetCOnPaper(t *testing.T) {
	// The figures below are worked out by hand from the study's counts and DefaultRates:
	// units per instance ⌈50000/256⌉ = 196; committing instances 1 + 48 + 48 + 3600 = 3697;
	// inferences 48·50000·(1+75) = 182.4 M; 12 waves each decode the images and recompute the
	// 75 corruptions: 45 M perturbations; work 182400 s + 112500 s + 750 s = 295650 s; each
	// task loads 48 models (480 s).
	cases := []struct {
		name   string
		shards int
		tasks  int
		length time.Duration
	}{
		// 295650/n + 480 ≤ 14400 first holds at n = 22: 13438.6 + 480 s.
		{"tasks of at most 4 h", 0, 22, 13919 * time.Second},
		// 295650/48 + 480 = 6639.4 s.
		{"one task per model's worth", 48, 48, 6639 * time.Second},
		// More tasks than units: the length formula still holds, MaxTasks says the rest idle.
		{"all units", 196, 196, 1988 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := EstimateWorkload(imagenetC(), DefaultRates, tc.shards, 4*time.Hour)
			want := Estimate{
				Units:       3697 * 196,
				PartFiles:   48 * 196,
				Bytes:       48*50000*4072 + 3697*196*600,
				Inferences:  182_400_000,
				Perturbed:   45_000_000,
				Waves:       12,
				MaxTasks:    196,
				Tasks:       tc.tasks,
				TaskLength:  tc.length,
				TotalLength: time.Duration(tc.tasks) * tc.length,
			}
			if e != want {
				t.Fatalf("estimate\n got %+v\nwant %+v", e, want)
			}
		})
	}
}

func TestEstimateLargerUnitsCutRecords(t *testing.T) {
	w := imagenetC()
	small := EstimateWorkload(w, DefaultRates, 48, 4*time.Hour)
	w.UnitSize = 2048
	big := EstimateWorkload(w, DefaultRates, 48, 4*time.Hour)
	// ⌈50000/2048⌉ = 25 units per instance instead of 196; the work, and so the length, is the same.
	if big.Units != 3697*25 || big.MaxTasks != 25 {
		t.Errorf("unit_size 2048: %d units, %d max tasks; want %d, 25", big.Units, big.MaxTasks, 3697*25)
	}
	if big.Inferences != small.Inferences || big.TaskLength != small.TaskLength {
		t.Errorf("unit size changed the work: %v vs %v", big, small)
	}
	// More models per wave: fewer recomputed perturbations, shorter tasks.
	w.ParallelModels = 16
	wide := EstimateWorkload(w, DefaultRates, 48, 4*time.Hour)
	if wide.Waves != 3 || wide.Perturbed != 75*50000*3 || wide.TaskLength >= big.TaskLength {
		t.Errorf("parallel_models 16: %d waves, %d perturbed, length %s (was %s)", wide.Waves, wide.Perturbed, wide.TaskLength, big.TaskLength)
	}
}

func TestEstimateWrite(t *testing.T) {
	e := EstimateWorkload(imagenetC(), DefaultRates, 0, 4*time.Hour)
	var b strings.Builder
	if err := e.Write(&b, DefaultRates); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"units        724612 ", "part files   9408\n", "bytes        9.5 GiB", "tasks        22 (at most 196",
		"task length  3h51m59s", "perturbed    45000000 (12 model waves",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("estimate text lacks %q:\n%s", want, b.String())
		}
	}
}
