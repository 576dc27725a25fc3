//! What a run measures: catalogue cases, plus the user's own shapes. `KERNEL:key=value,...` is
//! one case (`--case`); `KERNEL:key=v1,v2,...`, `key=LO..HIxF` (geometric) or `key=LO..HI+S`
//! (arithmetic) is a sweep (`--sweep`), one case per point of the product of the listed values.
//! Keys left out take the kernel's first catalogue parameter set of the run's size; every value is
//! checked against the kernel's [`ParamSpec`]s and its own rules before anything runs.

use crate::catalogue::{self, DType, KERNELS, Kernel, Params, Size};
use crate::kernels::{ParamError, ParamSpec};

/// One case to run: a kernel and its parameters.
#[derive(Debug, Clone)]
pub struct Case {
    pub kernel: &'static Kernel,
    pub params: Params,
}

/// `items` in an order shuffled with `seed` (Fisher-Yates over our deterministic generator): a
/// round of a multi-round run, the same order for the same seed on every platform.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut rng = crate::rng::InputRng::new(seed ^ 0x5_4ff1e);
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        items.swap(i, j);
    }
}

/// Cases in a round's shuffled order ([`shuffle`]), the peaks still first: every later record
/// of a backend is a fraction of them ([`crate::peak`]), so a streamed run must know them first.
pub fn shuffle_cases<C: std::borrow::Borrow<Case>>(cases: &mut [C], seed: u64) {
    shuffle(cases, seed);
    // Stable: the shuffled order holds within the peaks and within the rest.
    cases.sort_by_key(|c| c.borrow().kernel.family != crate::catalogue::Family::Peak);
}

/// The most points one sweep may expand to: a typo such as `1..1000000+1` must not start a
/// day-long run.
pub const MAX_SWEEP_POINTS: usize = 1000;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CaseError {
    #[error("`{spec}`: {why}; write KERNEL:key=value,... (e.g. matmul-f32:m=4096,n=11008,k=4096)")]
    Syntax { spec: String, why: String },
    #[error("`{spec}`: unknown kernel `{name}`; kernels: {kernels}")]
    UnknownKernel { spec: String, name: String, kernels: String },
    #[error("`{spec}`: {kernel} has no parameter `{key}`; it takes {}", accepted_by_id(kernel))]
    UnknownKey { spec: String, kernel: &'static str, key: String },
    #[error("`{spec}`: {kernel} `{key}`: {why}; it takes {}", accepted_by_id(kernel))]
    BadValue { spec: String, kernel: &'static str, key: String, why: String },
    #[error("`{spec}`: {kernel} {source}; it takes {}", accepted_by_id(kernel))]
    Invalid { spec: String, kernel: &'static str, source: ParamError },
    #[error("`{spec}` lists several values for `{key}`: that is a sweep (--sweep), not one case")]
    NotOneCase { spec: String, key: String },
    #[error("`{spec}` expands to {points} cases, more than {max}; narrow the ranges")]
    TooManyPoints { spec: String, points: usize, max: usize },
}

/// The parameters a kernel takes, with their ranges, for error messages and `accelbench kernels`.
pub fn accepted(kernel: &Kernel) -> String {
    kernel.imp.spec().iter().map(ParamSpec::to_string).collect::<Vec<_>>().join(", ")
}

fn accepted_by_id(id: &str) -> String {
    kernel_by_id(id).map(accepted).unwrap_or_default()
}

/// Catalogue entries by id (not family: a case's keys belong to one kernel).
pub fn kernel_by_id(id: &str) -> Option<&'static Kernel> {
    KERNELS.iter().find(|k| k.id == id)
}

/// One `--case` spec.
pub fn parse_case(spec: &str, size: Size) -> Result<Case, CaseError> {
    let (kernel, keys) = split(spec)?;
    if let Some((key, _)) = keys.iter().find(|(_, v)| v.len() > 1) {
        return Err(CaseError::NotOneCase { spec: spec.to_owned(), key: key.clone() });
    }
    let point: Vec<(String, u32)> = keys.into_iter().map(|(k, v)| (k, v[0])).collect();
    build(spec, kernel, size, &point)
}

/// One `--sweep` spec: one case per point, the last key varying fastest.
pub fn parse_sweep(spec: &str, size: Size) -> Result<Vec<Case>, CaseError> {
    let (kernel, keys) = split(spec)?;
    let points: usize = keys.iter().map(|(_, v)| v.len()).product();
    if points > MAX_SWEEP_POINTS {
        return Err(CaseError::TooManyPoints { spec: spec.to_owned(), points, max: MAX_SWEEP_POINTS });
    }
    let mut out = Vec::with_capacity(points);
    for i in 0..points {
        let mut rest = i;
        let mut point = vec![(String::new(), 0); keys.len()];
        for (slot, (key, values)) in point.iter_mut().zip(&keys).rev() {
            *slot = (key.clone(), values[rest % values.len()]);
            rest /= values.len();
        }
        out.push(build(spec, kernel, size, &point)?);
    }
    Ok(out)
}

/// What a run measures: the catalogue's cases of the selected kernels (all of them when nothing
/// at all is selected), then the `--case`s, then the `--sweep`s' points, in the order given.
pub fn select(kernels: &[String], cases: &[String], sweeps: &[String], size: Size) -> Result<Vec<Case>, Selection> {
    let mut out = Vec::new();
    if !kernels.is_empty() || (cases.is_empty() && sweeps.is_empty()) {
        for k in catalogue::select(kernels).map_err(Selection::Kernel)? {
            out.extend(k.params(size).into_iter().map(|params| Case { kernel: k, params }));
        }
    }
    for c in cases {
        out.push(parse_case(c, size).map_err(Selection::Case)?);
    }
    for s in sweeps {
        out.extend(parse_sweep(s, size).map_err(Selection::Case)?);
    }
    Ok(out)
}

/// [`select`] in a run that also has models: kernels named, cases or sweeps given, or no models
/// chosen select as [`select`] does; models alone select no kernel.
pub fn select_beside_models(
    kernels: &[String],
    cases: &[String],
    sweeps: &[String],
    models: &[String],
    size: Size,
) -> Result<Vec<Case>, Selection> {
    if kernels.is_empty() && cases.is_empty() && sweeps.is_empty() && !models.is_empty() {
        return Ok(vec![]);
    }
    select(kernels, cases, sweeps, size)
}

/// Keeps the cases of these dtypes (`f32`, `f16`); none given keeps all. An unknown dtype, or a
/// filter that leaves nothing, is an error naming it.
pub fn keep_dtypes(cases: &mut Vec<Case>, dtypes: &[String]) -> Result<(), Selection> {
    if dtypes.is_empty() {
        return Ok(());
    }
    let known = DType::ALL.map(DType::name);
    if let Some(d) = dtypes.iter().find(|d| !known.contains(&d.as_str())) {
        return Err(Selection::Dtype(d.clone()));
    }
    cases.retain(|c| dtypes.iter().any(|d| d == c.kernel.dtype.name()));
    if cases.is_empty() {
        return Err(Selection::NoneOfDtype(dtypes.join(" or ")));
    }
    Ok(())
}

/// Keeps the cases of the named modes (`inference`, `training`); none named keeps all.
pub fn keep_modes(cases: &mut Vec<Case>, modes: &[String]) -> Result<(), Selection> {
    if modes.is_empty() {
        return Ok(());
    }
    let known = crate::schema::Mode::ALL.map(crate::schema::Mode::name);
    if let Some(m) = modes.iter().find(|m| !known.contains(&m.as_str())) {
        return Err(Selection::Mode(m.clone()));
    }
    cases.retain(|c| modes.iter().any(|m| m == c.kernel.imp.mode().name()));
    if cases.is_empty() {
        return Err(Selection::NoneOfMode(modes.join(" or ")));
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum Selection {
    #[error(transparent)]
    Kernel(#[from] catalogue::UnknownKernel),
    #[error(transparent)]
    Case(#[from] CaseError),
    #[error("dtype `{0}` is not one of f32, f16, q8, q4")]
    Dtype(String),
    #[error("no chosen case has dtype {0}")]
    NoneOfDtype(String),
    #[error("mode `{0}` is not one of inference, training")]
    Mode(String),
    #[error("no chosen case is {0} work (training kernels are the `*-backward` ones, cross-entropy and adamw)")]
    NoneOfMode(String),
}

type Keys = Vec<(String, Vec<u32>)>;

fn split(spec: &str) -> Result<(&'static Kernel, Keys), CaseError> {
    let syntax = |why: &str| CaseError::Syntax { spec: spec.to_owned(), why: why.to_owned() };
    let (name, rest) = spec.split_once(':').ok_or_else(|| syntax("no `:` after the kernel id"))?;
    let kernel = kernel_by_id(name.trim()).ok_or_else(|| CaseError::UnknownKernel {
        spec: spec.to_owned(),
        name: name.trim().to_owned(),
        kernels: KERNELS.iter().map(|k| k.id).collect::<Vec<_>>().join(", "),
    })?;
    let mut keys: Keys = Vec::new();
    for token in rest.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        // `key=v1,v2`: a token without `=` is one more value of the key before it.
        let (key, value) = match token.split_once('=') {
            Some((k, v)) => (k.trim().to_owned(), v.trim()),
            None => match keys.last() {
                Some((k, _)) => (k.clone(), token),
                None => return Err(syntax(&format!("`{token}` is not key=value"))),
            },
        };
        if !kernel.imp.spec().iter().any(|s| s.name == key) {
            return Err(CaseError::UnknownKey { spec: spec.to_owned(), kernel: kernel.id, key });
        }
        let values = parse_values(value).map_err(|why| CaseError::BadValue {
            spec: spec.to_owned(),
            kernel: kernel.id,
            key: key.clone(),
            why,
        })?;
        match keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, vs)) if token.contains('=') => {
                return Err(syntax(&format!("`{key}` is given twice ({vs:?} and {value})")));
            }
            Some((_, vs)) => vs.extend(values),
            None => keys.push((key, values)),
        }
    }
    if keys.is_empty() {
        return Err(syntax("no key=value after the `:`"));
    }
    Ok((kernel, keys))
}

/// `N`, `LO..HIxF` (LO, LO*F, ... up to HI) or `LO..HI+S` (LO, LO+S, ... up to HI).
fn parse_values(v: &str) -> Result<Vec<u32>, String> {
    let int = |s: &str| -> Result<u64, String> {
        s.trim().replace('_', "").parse::<u64>().map_err(|_| format!("`{s}` is not a non-negative integer"))
    };
    let Some((lo, rest)) = v.split_once("..") else {
        let n = int(v)?;
        return u32::try_from(n).map(|n| vec![n]).map_err(|_| format!("{n} does not fit 32 bits"));
    };
    let (hi, step, geometric) = if let Some((hi, f)) = rest.split_once('x') {
        (int(hi)?, int(f)?, true)
    } else if let Some((hi, s)) = rest.split_once('+') {
        (int(hi)?, int(s)?, false)
    } else {
        return Err("a range is LO..HIxFACTOR (geometric) or LO..HI+STEP (arithmetic)".into());
    };
    let lo = int(lo)?;
    if lo > hi {
        return Err(format!("the range starts above its end ({lo} > {hi})"));
    }
    if hi > u64::from(u32::MAX) {
        return Err(format!("{hi} does not fit 32 bits"));
    }
    if (geometric && (step < 2 || lo == 0)) || (!geometric && step == 0) {
        return Err(if geometric {
            "a geometric range needs LO >= 1 and a factor >= 2".into()
        } else {
            "an arithmetic range needs a step >= 1".into()
        });
    }
    let mut out = Vec::new();
    let mut x = lo;
    while x <= hi {
        if out.len() >= MAX_SWEEP_POINTS {
            return Err(format!("the range has more than {MAX_SWEEP_POINTS} points"));
        }
        out.push(x as u32);
        x = if geometric { x * step } else { x + step };
    }
    Ok(out)
}

/// The kernel's base set of `size` with `point` applied, named after `point`, validated.
fn build(spec: &str, kernel: &'static Kernel, size: Size, point: &[(String, u32)]) -> Result<Case, CaseError> {
    let base = kernel.sets(size).first().or_else(|| kernel.quick.first()).expect("every kernel has a quick set");
    let imp_spec = kernel.imp.spec();
    // Spec order, so records list their parameters the same way whatever order the user wrote.
    let values = imp_spec
        .iter()
        .map(|s| {
            let v = point.iter().find(|(k, _)| k == s.name).map(|(_, v)| *v);
            (s.name, v.or_else(|| base.values.iter().find(|(k, _)| *k == s.name).map(|(_, v)| *v)).unwrap_or(s.min))
        })
        .collect();
    let case = point.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let params = Params { case, values };
    let invalid = |source| CaseError::Invalid { spec: spec.to_owned(), kernel: kernel.id, source };
    crate::kernels::check_spec(imp_spec, &params).map_err(invalid)?;
    kernel.imp.validate(&params).map_err(invalid)?;
    Ok(Case { kernel, params })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_fills_the_rest_from_the_base_set() {
        let c = parse_case("matmul-f32:m=96,n=80,k=64", Size::Quick).unwrap();
        assert_eq!(c.kernel.id, "matmul-f32");
        assert_eq!(c.params.case, "m=96,n=80,k=64");
        assert_eq!(c.params.values, vec![("m", 96), ("n", 80), ("k", 64), ("batch", 1)]);
    }

    #[test]
    fn sweeps_expand_lists_and_ranges() {
        let pts = parse_sweep("matmul-f32:m=64..256x2,n=8,16", Size::Quick).unwrap();
        let names: Vec<&str> = pts.iter().map(|c| c.params.case.as_str()).collect();
        assert_eq!(names, ["m=64,n=8", "m=64,n=16", "m=128,n=8", "m=128,n=16", "m=256,n=8", "m=256,n=16"]);
        let pts = parse_sweep("softmax:cols=100..400+100", Size::Quick).unwrap();
        assert_eq!(pts.iter().map(|c| c.params.get("cols")).collect::<Vec<_>>(), [100, 200, 300, 400]);
        assert_eq!(pts[0].params.get("rows"), 64, "unset keys come from the first quick set");
    }

    #[test]
    fn bad_input_names_the_key_and_what_is_accepted() {
        let e = parse_case("matmul-f32:m=96,q=3", Size::Quick).unwrap_err().to_string();
        assert!(e.contains("no parameter `q`") && e.contains("m (1..=") && e.contains("batch"), "{e}");
        let e = parse_case("matmul-f32:m=0", Size::Quick).unwrap_err().to_string();
        assert!(e.contains("`m` = 0 is outside 1..="), "{e}");
        let e = parse_case("attention-flash:head_dim=256", Size::Quick).unwrap_err().to_string();
        assert!(e.contains("at most 128"), "{e}");
        let e = parse_case("matmul-f32:m=1,2", Size::Quick).unwrap_err();
        assert!(matches!(e, CaseError::NotOneCase { .. }), "{e}");
        let e = parse_case("nope:m=1", Size::Quick).unwrap_err().to_string();
        assert!(e.contains("unknown kernel `nope`") && e.contains("matmul-f32"), "{e}");
        let e = parse_case("matmul-f32", Size::Quick).unwrap_err().to_string();
        assert!(e.contains("no `:`"), "{e}");
        let e = parse_sweep("matmul-f32:m=1..1000000+1", Size::Quick).unwrap_err().to_string();
        assert!(e.contains("more than 1000"), "{e}");
        let e = parse_case("matmul-f32:m=ten", Size::Quick).unwrap_err().to_string();
        assert!(e.contains("`ten` is not a non-negative integer"), "{e}");
    }

    #[test]
    fn a_shuffle_is_a_permutation_fixed_by_its_seed() {
        let base: Vec<u32> = (0..40).collect();
        let (mut a, mut b, mut c) = (base.clone(), base.clone(), base.clone());
        shuffle(&mut a, 7);
        shuffle(&mut b, 7);
        shuffle(&mut c, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, base);
        a.sort_unstable();
        assert_eq!(a, base);
    }

    #[test]
    fn select_keeps_the_catalogue_unless_only_cases_are_given() {
        let only = select(&[], &["softmax:rows=2".into()], &[], Size::Quick).unwrap();
        assert_eq!(only.len(), 1);
        // `softmax` is a kernel id: that kernel's two quick cases (not its fp16 variant's), then
        // the case.
        let both = select(&["softmax".into()], &["softmax:rows=2".into()], &[], Size::Quick).unwrap();
        assert_eq!(both.len(), 3);
        let all = select(&[], &[], &[], Size::Quick).unwrap();
        assert_eq!(all.len(), KERNELS.iter().map(|k| k.quick.len()).sum::<usize>());
    }

    #[test]
    fn a_dtype_filter_keeps_its_cases_and_names_what_it_refuses() {
        let all = select(&["matmul".into()], &[], &[], Size::Quick).unwrap();
        let mut f16 = all.clone();
        keep_dtypes(&mut f16, &["f16".into()]).unwrap();
        assert!(!f16.is_empty() && f16.iter().all(|c| c.kernel.id == "matmul-f16"));
        let mut none = all.clone();
        keep_dtypes(&mut none, &[]).unwrap();
        assert_eq!(none.len(), all.len());
        let e = keep_dtypes(&mut all.clone(), &["bf16".into()]).unwrap_err().to_string();
        assert!(e.contains("`bf16`") && e.contains("f32"), "{e}");
        // Log-mel stays f32 (as Whisper computes it): no fp16 variant to keep.
        let mut logmel = select(&["logmel".into()], &[], &[], Size::Quick).unwrap();
        let e = keep_dtypes(&mut logmel, &["f16".into()]).unwrap_err().to_string();
        assert!(e.contains("no chosen case has dtype f16"), "{e}");
    }
}
