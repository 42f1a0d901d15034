// Package load is the load stage's library: it lists datasets, decodes images and turns them into the
// [3,H,W] float32 tensors in [0,1] that the rest of the pipeline reads, on a pool of workers.
//
// Pixels follow the PyTorch reference pipeline (PIL's Image.open(f).convert("RGB"), then torchvision's
// Resize(int), CenterCrop and ToTensor):
//   - Decode: JPEG (baseline, progressive, greyscale, Adobe CMYK/YCCK) and PNG (8/16-bit, palette, grey,
//     alpha). JPEGs go through libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0, opened at run time),
//     the library under PIL, with PIL's settings (ISLOW IDCT, fancy upsampling; CMYK inverted as Adobe
//     writes it, then Pillow's cmyk2rgb): every pixel equals PIL's. Decoder() names the decoder in use; a
//     build with -tags nolibjpeg (or without cgo), or a machine without the library, falls back to Go's
//     image/jpeg with libjpeg's upsampling and colour conversion, whose IDCT differs from PIL's by 1–3
//     levels on about 3% of values. PNG alpha is dropped and 16-bit samples keep their high byte (Pillow
//     clips 16-bit greyscale to 255 instead). DecodeOptions.DraftSide (the dataset's `decode: draft`)
//     reduces large JPEGs by 1/2, 1/4 or 1/8 in the DCT domain as PIL's Image.draft does: faster, and
//     different numbers, so it is off by default. Errors never quote a file's bytes.
//   - Preprocess (and PreprocessFile, which also decodes, reusing its buffers): Pillow's bilinear
//     resampling with antialiasing, ported bit for bit (Resample.c), to torchvision's output size
//     int(resize·long/short), then the crop at int(round((h-ch)/2)) with
//     Python's round-half-to-even; values are float32(v)/255. Images of other types are first converted
//     as Decode does; an *image.RGBA is used as stored (premultiplied, i.e. composited on black).
//
// Datasets are opened by kind through a registry (imagefolder, cue-conflict and manifest are built in);
// their samples are sorted by ID, the dataset-relative path, and Config.Limit keeps a seeded subset.
//
// Loader.Run contract: batches hold up to BatchSize rows in sample order, the same for any number of
// workers; emit owns each batch and must release it. A sample that fails to load is passed to fail
// (if not nil) as an error row (Path = sample ID, Stage = Loader.Stage, Reason = the error), from Run's
// goroutine in sample order, and skipped. Besides the batch being built, at most 2×Workers+2 samples are
// in flight, whatever their number. Run stops at the first emit error or when ctx is done, returns that
// error, and returns only after its goroutines have ended.
package load
