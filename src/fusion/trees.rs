//! Gradient-boosted decision trees on the logistic loss, for the fusion
//! heads: Friedman 2001 ("Greedy function approximation: a gradient boosting
//! machine", Annals of Statistics 29(5)), with Newton leaf values and an L2
//! penalty on them as in Chen & Guestrin 2016 ("XGBoost", KDD), and splits
//! searched over quantile bins of each feature as in Ke et al. 2017
//! ("LightGBM", NeurIPS). Deterministic: no subsampling, and ties go to the
//! lowest feature and bin.
//!
//! Trees see the raw features: no scaling is needed, a missing value goes
//! left, and a few extreme values cannot pull a split the way they pull a
//! linear weight.

use serde::{Deserialize, Serialize};

/// One node of a tree. A leaf has `left == 0` (the root, index 0, is no
/// node's child).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature index a split tests.
    #[serde(default)]
    pub feature: usize,
    /// A sample goes left when its value is at most this, or missing.
    #[serde(default)]
    pub threshold: f32,
    /// Index of the left child (0 for a leaf).
    #[serde(default)]
    pub left: usize,
    /// Index of the right child (0 for a leaf).
    #[serde(default)]
    pub right: usize,
    /// Term added to the logit when a sample ends here. A split keeps the
    /// value it would have as a leaf, so that the change from a node to its
    /// child is what the split's feature contributed (the path attribution
    /// of Saabas 2014, "Interpreting random forests").
    pub value: f32,
}

/// One regression tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes, the root first; every child comes after its parent.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The tree's term for `x`, split into the root's value (returned) and
    /// each feature's share (added to `terms`): the two sum to the value of
    /// the leaf `x` reaches.
    pub fn attribute(&self, x: &[f32], terms: &mut [f32]) -> f32 {
        let Some(root) = self.nodes.first() else {
            return 0.0;
        };
        self.walk(x, |node, child| {
            if let Some(t) = terms.get_mut(node.feature) {
                *t += child.value - node.value;
            }
        });
        root.value
    }

    /// The tree's term for `x`: the value of the leaf it reaches.
    #[must_use]
    pub fn predict(&self, x: &[f32]) -> f32 {
        self.walk(x, |_, _| {}).map_or(0.0, |leaf| leaf.value)
    }

    /// Follow `x` from the root, calling `step(parent, child)` on each
    /// edge; the node it ends on (`None` for an empty tree).
    fn walk(&self, x: &[f32], mut step: impl FnMut(&Node, &Node)) -> Option<&Node> {
        let mut node = self.nodes.first()?;
        // `check` guarantees children come later, so a path ends; the bound
        // keeps an unchecked tree from looping.
        for _ in 0..self.nodes.len() {
            if node.left == 0 {
                break;
            }
            let v = x.get(node.feature).copied().unwrap_or(f32::NAN);
            let next = if v > node.threshold {
                node.right
            } else {
                node.left
            };
            let Some(child) = self.nodes.get(next) else {
                break;
            };
            step(node, child);
            node = child;
        }
        Some(node)
    }

    /// A tree read from a file is well formed: children after their
    /// parents and inside the tree, features inside the layout, finite
    /// values.
    ///
    /// # Errors
    /// A description of the first fault.
    pub fn check(&self, n_features: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("a tree has no nodes".into());
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.value.is_finite() || !n.threshold.is_finite() {
                return Err(format!("node {i} has a non-finite value or threshold"));
            }
            let leaf = n.left == 0 && n.right == 0;
            let split = n.left > i
                && n.right > i
                && n.left < self.nodes.len()
                && n.right < self.nodes.len()
                && n.feature < n_features;
            if !leaf && !split {
                return Err(format!("node {i} has invalid children or feature"));
            }
        }
        Ok(())
    }
}

/// How trees are grown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Boosting rounds (trees).
    pub rounds: usize,
    /// Largest depth of a tree (3: at most 8 leaves).
    pub depth: usize,
    /// Shrinkage of every tree's values.
    pub learning_rate: f64,
    /// L2 penalty on leaf values.
    pub l2: f64,
    /// Fewest samples in a leaf.
    pub min_leaf: usize,
    /// Most bins per feature.
    pub bins: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            rounds: 200,
            depth: 3,
            learning_rate: 0.05,
            l2: 1.0,
            min_leaf: 20,
            bins: 32,
        }
    }
}

/// Fit boosted trees to `rows` (samples x features) and their labels, each
/// sample weighted by `weights`. Returns the starting logit and the trees.
#[must_use]
pub fn fit(
    rows: &[Vec<f32>],
    labels: &[bool],
    weights: &[f64],
    params: &Params,
) -> (f32, Vec<Tree>) {
    let n = rows.len().min(labels.len()).min(weights.len());
    let d = rows.first().map_or(0, Vec::len);
    if n == 0 || rows[..n].iter().any(|r| r.len() != d) {
        return (0.0, Vec::new());
    }
    let cuts: Vec<Vec<f32>> = (0..d)
        .map(|j| cut_points(rows[..n].iter().map(|r| r[j]), params.bins))
        .collect();
    // Bin of every value, feature-major: the number of cuts below it (a
    // missing value is in bin 0, so it goes left like in `Tree::attribute`).
    let binned: Vec<Vec<u16>> = cuts
        .iter()
        .enumerate()
        .map(|(j, c)| {
            rows[..n]
                .iter()
                .map(|r| c.partition_point(|&cut| cut < r[j]) as u16)
                .collect()
        })
        .collect();
    let (pos, neg) = (0..n).fold((0.0f64, 0.0f64), |(p, q), i| {
        if labels[i] {
            (p + weights[i], q)
        } else {
            (p, q + weights[i])
        }
    });
    let base = if pos > 0.0 && neg > 0.0 {
        (pos / neg).ln()
    } else {
        0.0
    };
    let mut logit = vec![base; n];
    let mut trees = Vec::with_capacity(params.rounds);
    let (mut g, mut h) = (vec![0.0f64; n], vec![0.0f64; n]);
    for _ in 0..params.rounds {
        for i in 0..n {
            let p = 1.0 / (1.0 + (-logit[i]).exp());
            g[i] = weights[i] * (p - f64::from(u8::from(labels[i])));
            h[i] = weights[i] * (p * (1.0 - p)).max(1e-6);
        }
        let tree = grow(&binned, &cuts, &g, &h, params);
        for (i, l) in logit.iter_mut().enumerate() {
            *l += f64::from(tree.predict(&rows[i]));
        }
        trees.push(tree);
    }
    (base as f32, trees)
}

/// Up to `bins - 1` cut points at the quantiles of the finite values.
fn cut_points(values: impl Iterator<Item = f32>, bins: usize) -> Vec<f32> {
    let mut v: Vec<f32> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f32::total_cmp);
    let Some(&largest) = v.last() else {
        return Vec::new();
    };
    let mut cuts: Vec<f32> = (1..bins.max(2))
        .map(|k| v[(k * v.len() / bins.max(2)).min(v.len() - 1)])
        .filter(|&c| c < largest)
        .collect();
    cuts.dedup();
    cuts
}

/// One tree on the gradients `g` and curvatures `h`, grown breadth first.
fn grow(binned: &[Vec<u16>], cuts: &[Vec<f32>], g: &[f64], h: &[f64], p: &Params) -> Tree {
    let leaf_value = |samples: &[usize]| -> f32 {
        let (sg, sh) = samples
            .iter()
            .fold((0.0, 0.0), |(a, b), &i| (a + g[i], b + h[i]));
        (-sg / (sh + p.l2) * p.learning_rate) as f32
    };
    let all: Vec<usize> = (0..g.len()).collect();
    let mut nodes = vec![Node {
        feature: 0,
        threshold: 0.0,
        left: 0,
        right: 0,
        value: leaf_value(&all),
    }];
    let mut queue = std::collections::VecDeque::from([(0usize, all, 0usize)]);
    while let Some((index, samples, depth)) = queue.pop_front() {
        if depth >= p.depth || samples.len() < 2 * p.min_leaf {
            continue;
        }
        let Some((feature, bin)) = best_split(binned, g, h, &samples, p) else {
            continue;
        };
        let (left, right): (Vec<usize>, Vec<usize>) = samples
            .iter()
            .partition(|&&i| usize::from(binned[feature][i]) <= bin);
        let (li, ri) = (nodes.len(), nodes.len() + 1);
        for side in [&left, &right] {
            nodes.push(Node {
                feature: 0,
                threshold: 0.0,
                left: 0,
                right: 0,
                value: leaf_value(side),
            });
        }
        let node = &mut nodes[index];
        node.feature = feature;
        node.threshold = cuts[feature][bin];
        node.left = li;
        node.right = ri;
        queue.push_back((li, left, depth + 1));
        queue.push_back((ri, right, depth + 1));
    }
    Tree { nodes }
}

/// The split of most gain (Chen & Guestrin 2016, eq. 7) as (feature, last
/// bin on the left), or `None` when no split leaves `min_leaf` samples on
/// both sides with a positive gain.
fn best_split(
    binned: &[Vec<u16>],
    g: &[f64],
    h: &[f64],
    samples: &[usize],
    p: &Params,
) -> Option<(usize, usize)> {
    let (sg, sh) = samples
        .iter()
        .fold((0.0, 0.0), |(a, b), &i| (a + g[i], b + h[i]));
    let score = |g: f64, h: f64| g * g / (h + p.l2);
    let parent = score(sg, sh);
    let mut best: Option<(f64, usize, usize)> = None;
    for (j, bins) in binned.iter().enumerate() {
        let n_bins = samples
            .iter()
            .map(|&i| usize::from(bins[i]))
            .max()
            .unwrap_or(0)
            + 1;
        let mut hist = vec![(0.0f64, 0.0f64, 0usize); n_bins];
        for &i in samples {
            let b = &mut hist[usize::from(bins[i])];
            b.0 += g[i];
            b.1 += h[i];
            b.2 += 1;
        }
        let (mut lg, mut lh, mut ln) = (0.0, 0.0, 0usize);
        for (b, &(bg, bh, bn)) in hist.iter().enumerate().take(n_bins - 1) {
            lg += bg;
            lh += bh;
            ln += bn;
            if ln < p.min_leaf || samples.len() - ln < p.min_leaf {
                continue;
            }
            let gain = score(lg, lh) + score(sg - lg, sh - lh) - parent;
            if gain > 1e-9 && best.is_none_or(|(bgain, _, _)| gain > bgain) {
                best = Some((gain, j, b));
            }
        }
    }
    best.map(|(_, j, b)| (j, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a 20x20 grid, positive inside a disc: no linear model
    /// separates them, boosted trees do (up to the disc's staircase edge).
    fn disc() -> (Vec<Vec<f32>>, Vec<bool>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for a in 0..20 {
            for b in 0..20 {
                let (x, y) = (a as f32 - 9.5, b as f32 - 9.5);
                rows.push(vec![x, y, (a * 7 % 20) as f32]);
                labels.push(x * x + y * y < 40.0);
            }
        }
        (rows, labels)
    }

    #[test]
    fn boosted_trees_learn_what_a_line_cannot() {
        let (rows, labels) = disc();
        let weights = vec![1.0; rows.len()];
        let (base, trees) = fit(&rows, &labels, &weights, &Params::default());
        let logit = |x: &[f32]| base + trees.iter().map(|t| t.predict(x)).sum::<f32>();
        let correct = rows
            .iter()
            .zip(&labels)
            .filter(|(x, &y)| (logit(x) > 0.0) == y)
            .count();
        assert!(
            correct >= rows.len() * 98 / 100,
            "{correct} of {}",
            rows.len()
        );
        // The third feature is noise: few splits use it.
        let splits: Vec<usize> = trees
            .iter()
            .flat_map(|t| &t.nodes)
            .filter(|n| n.left != 0)
            .map(|n| n.feature)
            .collect();
        let on_noise = splits.iter().filter(|&&f| f == 2).count();
        assert!(
            on_noise * 10 < splits.len(),
            "{on_noise} of {}",
            splits.len()
        );
    }

    #[test]
    fn attribution_sums_to_the_prediction_and_fitting_repeats() {
        let (rows, labels) = disc();
        let weights = vec![1.0; rows.len()];
        let params = Params {
            rounds: 20,
            ..Params::default()
        };
        let (base, trees) = fit(&rows, &labels, &weights, &params);
        assert_eq!(
            (base, trees.clone()),
            fit(&rows, &labels, &weights, &params)
        );
        for x in rows.iter().step_by(37) {
            for t in &trees {
                let mut terms = vec![0.0; 3];
                let root = t.attribute(x, &mut terms);
                let sum = root + terms.iter().sum::<f32>();
                assert!((sum - t.predict(x)).abs() < 1e-6);
                assert_eq!(terms[2], 0.0);
            }
        }
        // A missing value goes left, like the lowest values.
        let t = &trees[0];
        let f = t.nodes[0].feature;
        let mut low = vec![0.0; 3];
        low[f] = f32::NEG_INFINITY;
        let mut missing = low.clone();
        missing[f] = f32::NAN;
        assert_eq!(t.predict(&low), t.predict(&missing));
    }

    #[test]
    fn malformed_trees_are_refused() {
        let leaf = |value: f32| Node {
            feature: 0,
            threshold: 0.0,
            left: 0,
            right: 0,
            value,
        };
        let split = |left: usize, right: usize, feature: usize| Node {
            feature,
            threshold: 0.5,
            left,
            right,
            value: 0.0,
        };
        let ok = Tree {
            nodes: vec![split(1, 2, 0), leaf(-1.0), leaf(1.0)],
        };
        assert!(ok.check(1).is_ok());
        assert_eq!(ok.predict(&[0.0]), -1.0);
        assert_eq!(ok.predict(&[1.0]), 1.0);
        for bad in [
            vec![split(0, 1, 0), leaf(0.0)],
            vec![split(1, 2, 0), leaf(0.0)],
            vec![split(1, 2, 3), leaf(0.0), leaf(0.0)],
            vec![split(1, 2, 0), split(0, 2, 0), leaf(0.0)],
            vec![leaf(f32::NAN)],
            vec![],
        ] {
            assert!(Tree { nodes: bad }.check(1).is_err());
        }
    }
}
