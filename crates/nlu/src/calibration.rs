//! Calibrated confidence: the chance that a reading is right, learnt from
//! labelled real buyer turns.
//!
//! Why: the rules' confidence (score strength and lead over the runner-up)
//! is sure of itself on phrasing the files know, and the character model's
//! agreement says something the rules do not; neither alone is a probability.
//! `nlu.threshold` means something only if the confidence does, so a
//! logistic function of what both saw gives it: `sigmoid(w · features)`.
//!
//! The weights are learnt by `cargo run -p xiaoer-nlu --example calibrate --
//! intents ../shared/eval/real_train.jsonl`, which classifies each turn of the
//! shop's own labelled logs with its examples held out of the intent files
//! (k folds, so a turn never meets itself), records [`Features`] and whether
//! the reading was right, and fits [`fit`]. The weights below are its output
//! for the shipped intent files; an operator who changes the files a lot can
//! re-learn them the same way.

/// Number of features a reading is described by.
pub const N: usize = 10;

/// Names of the features, in order (for the calibrate tool's report).
pub const NAMES: [&str; N] = [
    "rule confidence",
    "ln(1 + rule score)",
    "model agreement",
    "model top posterior",
    "stated by a phrase",
    "ln(units)",
    "extra clauses",
    "several intents",
    "named by the model",
    "model's own pick",
];

/// Learnt weights: the bias, then one per feature (`examples/calibrate.rs`
/// on real_train.jsonl, 5 folds; README, Figures, says how).
pub const WEIGHTS: [f32; N + 1] = [
    -1.995, 0.934, -0.149, 1.109, 1.468, 1.544, -0.274, -0.283, -1.095, 0.150, 0.158,
];

/// What the engine knew of a reading when it chose it.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// The rules' confidence in their weakest chosen intent (0 when the model
    /// named the intent).
    pub rule_confidence: f32,
    /// That intent's combined rule score.
    pub rule_score: f32,
    /// The model's posterior of the chosen intents (the weakest) over its best.
    pub agreement: f32,
    /// The model's best posterior.
    pub model_top: f32,
    /// A keyword or pattern states every chosen intent.
    pub stated: bool,
    /// Chinese characters plus Latin words of the message.
    pub units: usize,
    /// Clauses of the message with substance of their own.
    pub clauses: usize,
    /// Chosen intents.
    pub intents: usize,
    /// The rules were unsure and the model named the intent.
    pub switched: bool,
}

/// A reading as the numbers the calibration weighs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features(pub [f32; N]);

impl Features {
    /// The features of a reading.
    pub fn new(r: Reading) -> Features {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        Features([
            r.rule_confidence,
            r.rule_score.max(0.0).ln_1p(),
            r.agreement,
            r.model_top,
            flag(r.stated),
            (r.units.max(1) as f32).ln(),
            r.clauses.saturating_sub(1).min(3) as f32,
            flag(r.intents > 1),
            flag(r.switched),
            flag(r.agreement >= 1.0),
        ])
    }

    /// The calibrated confidence with the shipped [`WEIGHTS`].
    pub fn confidence(&self) -> f32 {
        self.confidence_with(&WEIGHTS)
    }

    /// The calibrated confidence with other weights.
    pub fn confidence_with(&self, w: &[f32; N + 1]) -> f32 {
        let z = w[0] + self.0.iter().zip(&w[1..]).map(|(x, w)| x * w).sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// Logistic regression by Newton's method with an L2 penalty `l2` on the
/// feature weights (not the bias): the weights that make
/// `Features::confidence_with` the chance that a reading is right.
/// `rows` are `(features, was right)`. Deterministic; a fixed number of steps.
pub fn fit(rows: &[(Features, bool)], l2: f64) -> [f32; N + 1] {
    const D: usize = N + 1;
    let mut w = [0f64; D];
    let x = |f: &Features, k: usize| if k == 0 { 1.0 } else { f.0[k - 1] as f64 };
    for _ in 0..50 {
        let mut grad = [0f64; D];
        let mut hess = [[0f64; D]; D];
        for (f, y) in rows {
            let z: f64 = (0..D).map(|k| w[k] * x(f, k)).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let y = if *y { 1.0 } else { 0.0 };
            for a in 0..D {
                grad[a] += (p - y) * x(f, a);
                for b in 0..D {
                    hess[a][b] += p * (1.0 - p) * x(f, a) * x(f, b);
                }
            }
        }
        for k in 1..D {
            grad[k] += l2 * w[k];
            hess[k][k] += l2;
        }
        hess[0][0] += 1e-9;
        let Some(step) = solve(hess, grad) else { break };
        let mut moved = 0f64;
        for k in 0..D {
            w[k] -= step[k];
            moved = moved.max(step[k].abs());
        }
        if moved < 1e-9 {
            break;
        }
    }
    w.map(|v| v as f32)
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting; `None`
/// when `a` is singular.
fn solve<const D: usize>(mut a: [[f64; D]; D], mut b: [f64; D]) -> Option<[f64; D]> {
    for col in 0..D {
        let piv = (col..D).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for r in col + 1..D {
            let f = a[r][col] / a[col][col];
            for c in col..D {
                a[r][c] -= f * a[col][c];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0f64; D];
    for r in (0..D).rev() {
        let s: f64 = (r + 1..D).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(rule_confidence: f32, agreement: f32) -> Features {
        Features::new(Reading {
            rule_confidence,
            rule_score: 1.0,
            agreement,
            model_top: 0.5,
            stated: false,
            units: 5,
            clauses: 1,
            intents: 1,
            switched: false,
        })
    }

    #[test]
    fn confidence_is_a_probability() {
        for f in [reading(0.0, 0.0), reading(1.0, 1.0), reading(0.5, 0.2)] {
            let c = f.confidence();
            assert!((0.0..=1.0).contains(&c), "{c}");
        }
    }

    #[test]
    fn fit_learns_which_feature_predicts_rightness() {
        // Right exactly when the model agrees; the rules' confidence is noise.
        let rows: Vec<(Features, bool)> = (0..200)
            .map(|k| {
                let agree = k % 2 == 0;
                let noise = (k % 7) as f32 / 7.0;
                (reading(noise, if agree { 1.0 } else { 0.1 }), agree)
            })
            .collect();
        let w = fit(&rows, 0.1);
        let right = reading(0.3, 1.0).confidence_with(&w);
        let wrong = reading(0.3, 0.1).confidence_with(&w);
        assert!(right > 0.8 && wrong < 0.2, "{right} {wrong} {w:?}");
    }

    #[test]
    fn fit_of_nothing_is_finite() {
        let w = fit(&[], 1.0);
        assert!(w.iter().all(|v| v.is_finite()));
    }
}
