// Package filters is the convolution filter statistics stage (analysis K of ANALYSES.md): per
// model, statistics of the 3×3 kernels of every Conv layer (torchconvquality), and across the
// compared models, the distribution shift of the kernels (CNN Filter DB).
//
// Per layer, with W the (c_out·c_in) × 9 matrix of its kernels (Stats, LayerStats):
//   - sparsity: the fraction of filters whose 9 |w| are all below threshold·max|W| (a layer of
//     zeros counts as all sparse, as torchconvquality's threshold of 1 for max|W| = 0 gives);
//   - variance entropy: with s the singular values of W minus its column means, r = s²/Σs² and
//     VE = −Σ r·log10 r ∈ [0, log10 9]; computed from the eigenvalues of the 9×9 scatter matrix
//     (the same s², without an n × 9 SVD); 0 when the centred matrix is zero (all filters
//     identical), and 0·log 0 = 0 where torch's reference gives NaN for a rank-deficient layer;
//     also over the non-sparse filters only, undefined when every filter is sparse;
//   - orthogonality: rows = output channels' kernels (c_in·9 values), L2-normalised (zero rows
//     left as they are), c = Σ|ŴŴᵀ − I| / (n(n−1)), orthogonality = 1 − c; undefined for n = 1.
//
// Across models (Basis, Histograms), in three streaming passes over each model's kernels so that
// memory does not grow with the number of filters:
//  1. Basis.Add: each filter scaled by its max |w| (a zero filter left as is) into the 9×9
//     scatter and the sum; Basis.Finish: the PCA basis (covariance eigenvectors, descending
//     explained variance, each signed so that its largest-magnitude entry is positive);
//  2. Basis.Measure: the range [min, max] of all projected coefficients, one range over all 9
//     components as CNN Filter DB's notebook computes it (dX_n.min(), dX_n.max());
//  3. Histograms.Add: per model, per relative-depth group of its layers, and per depth group
//     pooled over all models, one histogram per component over that range (numpy's rule: the
//     last bin is closed). Histograms.Rows: density, empty bins set to float32 eps, renormalised;
//     D(P,Q) = Σ_i w_i·[KL(P_i‖Q_i) + KL(Q_i‖P_i)] (natural log), w = explained variance ratio or
//     uniform 1/9.
package filters
