//! Checkpoints: bit-exact round trips, PyTorch-style f32/f16/bf16 files, prefixes, every error a learner can
//! cause (and that a failed load or save changes nothing), atomic replacement, and resuming an optimiser.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rand::Rng as _;
use rnn::checkpoint::{self, Checkpoint};
use rnn::optim::{Adam, Optimizer};
use rnn::prelude::*;
use rnn::Error;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;

/// A fresh directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "rnn-checkpoint-tests-{}-{test}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Files whose names say they are temporary, anywhere under the directory.
    fn temp_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.to_string_lossy().contains(".tmp") {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn elman(seed: u64) -> Elman {
    Elman::new(3, 5, &mut rnn::init::rng(seed))
}

fn bits(model: &dyn Parameters) -> Vec<(String, Vec<u64>)> {
    model
        .params()
        .into_iter()
        .map(|(n, p)| (n, p.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// The model's tensors as owned arrays, to edit before saving.
fn owned(model: &dyn Parameters) -> Vec<(String, ArrayD<f64>)> {
    model
        .params()
        .into_iter()
        .map(|(n, p)| (n, p.to_owned()))
        .collect()
}

fn save_owned(path: &Path, tensors: &[(String, ArrayD<f64>)], config: Option<&serde_json::Value>) {
    let views: Vec<(String, ArrayViewD<'_, f64>)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.view())).collect();
    checkpoint::save(path, &views, config).unwrap();
}

/// Writes a safetensors file with tensors of any dtype, as PyTorch would, through the safetensors crate.
fn write_raw(
    path: &Path,
    tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    metadata: Option<HashMap<String, String>>,
) {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, dtype, shape, data)| (*n, TensorView::new(*dtype, shape.clone(), data).unwrap()))
        .collect();
    let bytes = safetensors::serialize(views, &metadata).unwrap();
    fs::write(path, bytes).unwrap();
}

fn f32_bytes(t: &ArrayViewD<'_, f64>) -> Vec<u8> {
    t.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect()
}

// ------------------------------------------------------------------------------------------ Round trips

#[test]
fn elman_round_trip_is_bit_exact_with_config() {
    let dir = Scratch::new("round-trip");
    let path = dir.path("elman.safetensors");
    let model = elman(1);
    let config = json!({
        "cell": "rnn",
        "input_size": 3,
        "hidden_size": 5,
        "lr": 0.002,
        "layers": [1, 2],
        "vocab": "abc\n\"é",
        "nested": { "dropout": 0.25, "bidirectional": false, "note": null }
    });
    checkpoint::save_params(&path, &model, Some(&config)).unwrap();

    let ckpt = Checkpoint::load(&path).unwrap();
    assert_eq!(ckpt.config.as_ref(), Some(&config));
    assert_eq!(
        ckpt.names().collect::<Vec<_>>(),
        ["bias_hh", "bias_ih", "weight_hh", "weight_ih"]
    );
    assert_eq!(ckpt.get("weight_ih").unwrap().shape(), &[5, 3]);
    assert!(ckpt.get("weight_ih_l0").is_none());

    let mut restored = elman(2);
    assert_ne!(bits(&restored), bits(&model));
    ckpt.load_into(&mut restored).unwrap();
    assert_eq!(bits(&restored), bits(&model));
    assert_eq!(restored, model);

    // The file is plain safetensors: F64 tensors, config as a JSON string in `__metadata__`.
    let bytes = fs::read(&path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let stored = &meta.metadata().as_ref().unwrap()[checkpoint::CONFIG_KEY];
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(stored).unwrap(),
        config
    );
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let w = st.tensor("weight_hh").unwrap();
    assert_eq!((w.dtype(), w.shape()), (Dtype::F64, &[5usize, 5][..]));
    assert_eq!(&w.data()[..8], &model.weight_hh[[0, 0]].to_le_bytes());
    assert_eq!(dir.temp_files(), Vec::<PathBuf>::new());
}

#[test]
fn checkpoint_without_config_and_odd_shapes_round_trips() {
    let dir = Scratch::new("odd-shapes");
    let path = dir.path("odd.safetensors");
    let scalar = ArrayD::from_elem(IxDyn(&[]), 42.0);
    let empty = ArrayD::<f64>::zeros(IxDyn(&[0, 3]));
    let cube = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| {
        (i[0] * 12 + i[1] * 4 + i[2]) as f64 - 0.5
    });
    // A transposed (non-contiguous) view is written in logical order.
    let matrix = ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let tensors = vec![
        ("step".to_string(), scalar.view()),
        ("empty".to_string(), empty.view()),
        ("cube".to_string(), cube.view()),
        ("transposed".to_string(), matrix.t().into_dyn()),
    ];
    checkpoint::save(&path, &tensors, None).unwrap();
    let ckpt = Checkpoint::load(&path).unwrap();
    assert_eq!(ckpt.config, None);
    assert_eq!(ckpt.get("step").unwrap(), &scalar);
    assert_eq!(ckpt.get("empty").unwrap(), &empty);
    assert_eq!(ckpt.get("cube").unwrap(), &cube);
    assert_eq!(
        ckpt.get("transposed").unwrap(),
        &ndarray::array![[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]].into_dyn()
    );
    // Checkpoint::save writes back the same contents.
    let again = dir.path("again.safetensors");
    ckpt.save(&again).unwrap();
    let reloaded = Checkpoint::load(&again).unwrap();
    assert_eq!(reloaded.tensors, ckpt.tensors);
    assert_eq!(reloaded.config, ckpt.config);
}

// --------------------------------------------------------------------------------- PyTorch-style files

#[test]
fn f32_file_written_like_pytorch_loads() {
    let dir = Scratch::new("f32");
    let path = dir.path("torch.safetensors");
    let source = elman(3);
    let params = source.params();
    let tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = params
        .iter()
        .map(|(n, p)| (n.as_str(), Dtype::F32, p.shape().to_vec(), f32_bytes(p)))
        .collect();
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_raw(&path, &tensors, Some(meta));

    let ckpt = Checkpoint::load(&path).unwrap();
    assert_eq!(ckpt.config, None, "other metadata keys are not a config");
    let mut model = elman(4);
    ckpt.load_into(&mut model).unwrap();
    for ((name, got), (_, want)) in model.params().iter().zip(source.params()) {
        for (g, w) in got.iter().zip(want.iter()) {
            assert_eq!(*g, (*w as f32) as f64, "{name}");
        }
    }
}

#[test]
fn f16_bf16_and_integer_tensors_convert_exactly() {
    let dir = Scratch::new("half");
    let path = dir.path("half.safetensors");
    // IEEE half: 1, −2, 0.333251953125 (nearest to 1/3), 2^−24 (smallest subnormal), 65504 (largest), +∞, −0.
    let f16_bits: [u16; 7] = [0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF, 0x7C00, 0x8000];
    let f16_want = [
        1.0,
        -2.0,
        0.333251953125,
        2f64.powi(-24),
        65504.0,
        f64::INFINITY,
        -0.0,
    ];
    // bfloat16: the top half of an f32: 1, −3, 0.25.
    let bf16_bits: [u16; 3] = [0x3F80, 0xC040, 0x3E80];
    let le16 = |b: &[u16]| b.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    let ints: Vec<u8> = [-3i64, 7, 1 << 40]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_raw(
        &path,
        &[
            ("h", Dtype::F16, vec![7], le16(&f16_bits)),
            ("bf", Dtype::BF16, vec![3], le16(&bf16_bits)),
            ("n", Dtype::I64, vec![3], ints),
            ("u", Dtype::U8, vec![2], vec![0, 255]),
        ],
        None,
    );
    let ckpt = Checkpoint::load(&path).unwrap();
    let h = ckpt.get("h").unwrap();
    for (g, w) in h.iter().zip(f16_want) {
        assert_eq!(g.to_bits(), w.to_bits(), "f16: got {g}, want {w}");
    }
    let nan = dir.path("nan.safetensors");
    write_raw(&nan, &[("h", Dtype::F16, vec![1], le16(&[0x7E00]))], None);
    assert!(Checkpoint::load(&nan).unwrap().get("h").unwrap()[[0]].is_nan());
    assert_eq!(
        ckpt.get("bf").unwrap().iter().copied().collect::<Vec<_>>(),
        [1.0, -3.0, 0.25]
    );
    assert_eq!(
        ckpt.get("n").unwrap().iter().copied().collect::<Vec<_>>(),
        [-3.0, 7.0, 2f64.powi(40)]
    );
    assert_eq!(
        ckpt.get("u").unwrap().iter().copied().collect::<Vec<_>>(),
        [0.0, 255.0]
    );
}

#[test]
fn prefix_selects_a_submodule_of_a_larger_pytorch_model() {
    let dir = Scratch::new("prefix");
    let path = dir.path("net.safetensors");
    let source = elman(5);
    let params = source.params();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = params
        .iter()
        .map(|(n, p)| {
            (
                format!("rnn.{n}"),
                Dtype::F32,
                p.shape().to_vec(),
                f32_bytes(p),
            )
        })
        .collect();
    // The rest of the network: a linear layer `fc` that the Elman cell must ignore.
    tensors.push(("fc.weight".into(), Dtype::F32, vec![2, 5], vec![0; 40]));
    tensors.push(("fc.bias".into(), Dtype::F32, vec![2], vec![0; 8]));
    let refs: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), *d, s.clone(), b.clone()))
        .collect();
    write_raw(&path, &refs, None);
    let ckpt = Checkpoint::load(&path).unwrap();

    let mut model = elman(6);
    let before = model.clone();
    match ckpt.load_into(&mut model) {
        Err(Error::MissingTensor {
            name, available, ..
        }) => {
            assert_eq!(name, "weight_ih");
            assert!(available.contains("rnn.weight_ih"), "{available}");
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }
    assert_eq!(model, before);
    match ckpt.load_into_with_prefix(&mut model, "encoder.") {
        Err(Error::MissingTensor {
            name, available, ..
        }) => {
            assert_eq!(name, "encoder.weight_ih");
            assert!(
                available.contains("no tensors starting with `encoder.`"),
                "{available}"
            );
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }

    ckpt.load_into_with_prefix(&mut model, "rnn.").unwrap();
    assert_eq!(
        model.weight_ih[[4, 2]],
        (source.weight_ih[[4, 2]] as f32) as f64
    );
    assert_eq!(model.bias_hh[0], (source.bias_hh[0] as f32) as f64);
}

// ------------------------------------------------------------------------- Loads that must fail cleanly

/// Saves `tensors`, loads the file, tries to load it into `model`, and returns the error; asserts that the
/// model did not change.
fn failed_load(dir: &Scratch, tensors: &[(String, ArrayD<f64>)], model: &mut Elman) -> Error {
    let path = dir.path("bad.safetensors");
    save_owned(&path, tensors, None);
    let before = model.clone();
    let err = Checkpoint::load(&path)
        .unwrap()
        .load_into(model)
        .expect_err("the load should fail");
    assert_eq!(*model, before, "a failed load changed the model ({err})");
    err
}

#[test]
fn wrong_shape_is_reported_and_changes_nothing() {
    let dir = Scratch::new("shape");
    let mut tensors = owned(&elman(7));
    // Every tensor is loadable except the last one the model asks for.
    tensors[3].1 = ArrayD::zeros(IxDyn(&[6]));
    let mut model = elman(8);
    match failed_load(&dir, &tensors, &mut model) {
        e @ Error::ShapeMismatch { .. } => {
            let Error::ShapeMismatch {
                name,
                expected,
                found,
                ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(
                (name.as_str(), expected.as_slice(), found.as_slice()),
                ("bias_hh", &[5][..], &[6][..])
            );
            let msg = e.to_string();
            assert!(
                msg.contains("`bias_hh` has shape [6], but the model expects [5]"),
                "{msg}"
            );
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    // A transposed weight is a shape mismatch too.
    let mut tensors = owned(&elman(7));
    tensors[0].1 = tensors[0].1.t().to_owned();
    assert!(matches!(
        failed_load(&dir, &tensors, &mut model),
        Error::ShapeMismatch { ref name, .. } if name == "weight_ih"
    ));
}

#[test]
fn missing_tensor_is_reported_and_changes_nothing() {
    let dir = Scratch::new("missing");
    let mut tensors = owned(&elman(9));
    tensors.retain(|(n, _)| n != "bias_hh");
    let mut model = elman(10);
    match failed_load(&dir, &tensors, &mut model) {
        Error::MissingTensor {
            name,
            available,
            path,
        } => {
            assert_eq!(name, "bias_hh");
            assert_eq!(available, "bias_ih, weight_hh, weight_ih");
            assert!(path.ends_with("bad.safetensors"));
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }
}

#[test]
fn unexpected_tensors_are_reported_and_change_nothing() {
    let dir = Scratch::new("extra");
    let mut tensors = owned(&elman(11));
    tensors.push(("weight_ih_l1".into(), ArrayD::zeros(IxDyn(&[5, 5]))));
    tensors.push(("bias_ih_l1".into(), ArrayD::zeros(IxDyn(&[5]))));
    let mut model = elman(12);
    match failed_load(&dir, &tensors, &mut model) {
        e @ Error::UnexpectedTensors { .. } => {
            let msg = e.to_string();
            assert!(msg.contains("bias_ih_l1, weight_ih_l1"), "{msg}");
        }
        other => panic!("expected UnexpectedTensors, got {other:?}"),
    }
}

#[test]
fn corrupt_files_give_corrupt_checkpoint_never_a_panic() {
    let dir = Scratch::new("corrupt");
    let good_path = dir.path("good.safetensors");
    checkpoint::save_params(&good_path, &elman(13), Some(&json!({"hidden_size": 5}))).unwrap();
    let good = fs::read(&good_path).unwrap();

    let mut random = vec![0u8; 256];
    rnn::init::rng(14).fill(&mut random[..]);
    let mut garbage_header = 16u64.to_le_bytes().to_vec();
    garbage_header.extend_from_slice(b"{\"a\": [1, 2 ...}");
    let mut huge_header = u64::MAX.to_le_bytes().to_vec();
    huge_header.extend_from_slice(b"{}");
    let mut too_long = good.clone();
    too_long.extend_from_slice(&[0; 8]);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "empty"),
        (
            "text",
            b"hello, this is a text file, not a checkpoint\n".to_vec(),
            "header length",
        ),
        ("short", vec![1, 2, 3], "shorter than the 8 bytes"),
        ("random", random, "header"),
        ("truncated", good[..good.len() - 4].to_vec(), "truncated"),
        ("truncated header", good[..40].to_vec(), "header length"),
        ("extra bytes", too_long, "extra bytes"),
        ("garbage header", garbage_header, "not the JSON table"),
        ("huge header", huge_header, "header length"),
    ];
    for (what, bytes, needle) in cases {
        let path = dir.path(&format!("{}.safetensors", what.replace(' ', "-")));
        fs::write(&path, &bytes).unwrap();
        match Checkpoint::load(&path) {
            Err(e @ Error::CorruptCheckpoint { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{what}: {msg:?} lacks {needle:?}");
                assert!(msg.contains(&*path.to_string_lossy()), "{what}: {msg}");
            }
            other => panic!("{what}: expected CorruptCheckpoint, got {other:?}"),
        }
    }

    // Valid safetensors whose config is not JSON.
    let path = dir.path("bad-config.safetensors");
    let meta = HashMap::from([("config".to_string(), "{hidden_size: 5".to_string())]);
    write_raw(
        &path,
        &[("x", Dtype::F64, vec![1], 1f64.to_le_bytes().to_vec())],
        Some(meta),
    );
    match Checkpoint::load(&path) {
        Err(e @ Error::CorruptCheckpoint { .. }) => {
            assert!(
                e.to_string()
                    .contains("`config` metadata is not valid JSON"),
                "{e}"
            )
        }
        other => panic!("expected CorruptCheckpoint, got {other:?}"),
    }

    // Valid safetensors holding a type that is not a number we can read (8-bit float).
    let path = dir.path("fp8.safetensors");
    write_raw(&path, &[("x", Dtype::F8_E4M3, vec![2], vec![0, 1])], None);
    match Checkpoint::load(&path) {
        Err(e @ Error::CorruptCheckpoint { .. }) => {
            assert!(e.to_string().contains("tensor `x` has type F8_E4M3"), "{e}")
        }
        other => panic!("expected CorruptCheckpoint, got {other:?}"),
    }
}

#[test]
fn missing_file_or_directory_gives_io_error() {
    let dir = Scratch::new("io");
    match Checkpoint::load(&dir.path("nope.safetensors")) {
        Err(e @ Error::Io { action: "read", .. }) => {
            assert!(e.to_string().contains("nope.safetensors"), "{e}");
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(matches!(Checkpoint::load(&dir.0), Err(Error::Io { .. })));
}

// ---------------------------------------------------------------------------------------------- Saving

#[test]
fn failed_saves_leave_the_existing_checkpoint_intact_and_no_temp_files() {
    let dir = Scratch::new("failed-save");
    let path = dir.path("model.safetensors");
    let original = elman(15);
    let config = json!({"run": "original"});
    checkpoint::save_params(&path, &original, Some(&config)).unwrap();
    let original_bytes = fs::read(&path).unwrap();
    let other = elman(16);

    // The target's directory does not exist.
    let err =
        checkpoint::save_params(&dir.path("missing/model.safetensors"), &other, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                action: "create",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("missing/model.safetensors"),
        "{err}"
    );

    // The target is a directory (holding a checkpoint of its own).
    let sub = dir.path("sub");
    fs::create_dir(&sub).unwrap();
    checkpoint::save_params(&sub.join("inner.safetensors"), &original, None).unwrap();
    let err = checkpoint::save_params(&sub, &other, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                action: "rename",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(sub.is_dir());
    assert_eq!(
        Checkpoint::load(&sub.join("inner.safetensors"))
            .unwrap()
            .tensors
            .len(),
        4
    );

    // Duplicate and reserved names are refused before anything is written.
    let w = other.weight_ih.view().into_dyn();
    let dup = [("w".to_string(), w.clone()), ("w".to_string(), w.clone())];
    let err = checkpoint::save(&path, &dup, None).unwrap_err();
    assert!(
        matches!(err, Error::InvalidTensorName { ref name, .. } if name == "w"),
        "{err:?}"
    );
    let reserved = [("__metadata__".to_string(), w)];
    assert!(matches!(
        checkpoint::save(&path, &reserved, None),
        Err(Error::InvalidTensorName { .. })
    ));

    // The original is untouched, byte for byte, and no temporary file is left anywhere.
    assert_eq!(fs::read(&path).unwrap(), original_bytes);
    let ckpt = Checkpoint::load(&path).unwrap();
    assert_eq!(ckpt.config, Some(config));
    let mut restored = elman(17);
    ckpt.load_into(&mut restored).unwrap();
    assert_eq!(restored, original);
    assert_eq!(dir.temp_files(), Vec::<PathBuf>::new());
}

#[test]
fn saving_over_an_existing_checkpoint_replaces_it() {
    let dir = Scratch::new("replace");
    let path = dir.path("model.safetensors");
    let (a, b) = (elman(18), elman(19));
    checkpoint::save_params(&path, &a, Some(&json!({"epoch": 1}))).unwrap();
    checkpoint::save_params(&path, &b, Some(&json!({"epoch": 2}))).unwrap();
    let ckpt = Checkpoint::load(&path).unwrap();
    assert_eq!(ckpt.config, Some(json!({"epoch": 2})));
    let mut m = elman(20);
    ckpt.load_into(&mut m).unwrap();
    assert_eq!(m, b);
    // Replacing with a file without config drops the config.
    checkpoint::save_params(&path, &a, None).unwrap();
    let ckpt = Checkpoint::load(&path).unwrap();
    assert_eq!(ckpt.config, None);
    ckpt.load_into(&mut m).unwrap();
    assert_eq!(m, a);
    let names: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["model.safetensors"]);
}

#[test]
fn concurrent_saves_to_one_path_leave_one_complete_checkpoint() {
    let dir = Scratch::new("concurrent");
    let path = dir.path("model.safetensors");
    let models: Vec<Elman> = (0..4).map(|s| elman(100 + s)).collect();
    std::thread::scope(|scope| {
        for m in &models {
            let path = &path;
            scope.spawn(move || {
                for _ in 0..5 {
                    checkpoint::save_params(path, m, None).unwrap();
                }
            });
        }
    });
    let mut loaded = elman(0);
    Checkpoint::load(&path)
        .unwrap()
        .load_into(&mut loaded)
        .unwrap();
    assert!(models.contains(&loaded));
    assert_eq!(dir.temp_files(), Vec::<PathBuf>::new());
}

// ------------------------------------------------------------------------------------------- Resuming

/// Gradient of L = ½‖θ − 0.3‖² + a different wobble each step: deterministic, step-dependent.
fn synthetic_grads(model: &Elman, step: usize) -> Elman {
    let mut g = model.clone();
    for (_, mut t) in g.params_mut() {
        let mut k = 0.0;
        t.mapv_inplace(|v| {
            k += 1.0;
            v - 0.3 + 0.1 * (step as f64 * 0.7 + k).sin()
        });
    }
    g
}

#[test]
fn resuming_from_a_checkpoint_with_optimiser_state_is_bit_identical() {
    let dir = Scratch::new("resume");
    let path = dir.path("run.safetensors");

    let mut straight = elman(21);
    let mut opt = Adam::new(0.01);
    for step in 0..5 {
        let g = synthetic_grads(&straight, step);
        opt.step(&mut straight, &g);
    }

    // Three steps, then save the model (PyTorch names) and the optimiser state under `optim.`.
    let mut model = elman(21);
    let mut opt = Adam::new(0.01);
    for step in 0..3 {
        let g = synthetic_grads(&model, step);
        opt.step(&mut model, &g);
    }
    let state = opt.state();
    let mut tensors: Vec<(String, ArrayViewD<'_, f64>)> = model.params();
    tensors.extend(state.iter().map(|(n, t)| (format!("optim.{n}"), t.view())));
    checkpoint::save(
        &path,
        &tensors,
        Some(&json!({"optimizer": "adam", "lr": 0.01})),
    )
    .unwrap();
    drop(opt);

    // A new process: fresh model and optimiser, restored from the file.
    let mut ckpt = Checkpoint::load(&path).unwrap();
    let optim_state = ckpt.take_prefix("optim.");
    assert_eq!(optim_state[0].0, "exp_avg.bias_hh");
    let mut resumed = elman(99);
    ckpt.load_into(&mut resumed).unwrap();
    let mut opt = Adam::new(0.01);
    opt.load_state_for(&resumed, optim_state).unwrap();
    for step in 3..5 {
        let g = synthetic_grads(&resumed, step);
        opt.step(&mut resumed, &g);
    }
    assert_eq!(bits(&resumed), bits(&straight));
}

// ------------------------------------------------------------------------------- Plain tensor files

#[test]
fn tensor_files_round_trip_with_metadata_and_are_written_atomically() {
    use std::collections::BTreeMap;
    let dir = Scratch::new("tensors");
    let path = dir.path("data.safetensors");
    let x = ArrayD::from_shape_fn(IxDyn(&[2, 3, 4]), |i| {
        (i[0] * 12 + i[1] * 4 + i[2]) as f64 / 7.0
    });
    let h0 = ndarray::array![[1.0, -2.0], [0.5, 1e-300]].into_dyn();
    let meta = BTreeMap::from([("note".to_string(), "made by a test".to_string())]);
    rnn::tensors::write(&path, &[("x", x.view()), ("h0", h0.t().into_dyn())], &meta).unwrap();
    let file = rnn::tensors::read(&path).unwrap();
    assert_eq!(file.tensors.len(), 2);
    assert_eq!(file.tensors["x"], x);
    assert_eq!(file.tensors["h0"], h0.t().to_owned().into_dyn());
    assert_eq!(file.metadata, meta);
    // No metadata: none in the file.
    rnn::tensors::write(&path, &[("x".to_string(), x.view())], &BTreeMap::new()).unwrap();
    assert!(rnn::tensors::read(&path).unwrap().metadata.is_empty());
    let before = fs::read(&path).unwrap();
    // Refused names write nothing; a failed write leaves the old file and no temporary file.
    let dup = [("x", x.view()), ("x", x.view())];
    assert!(matches!(
        rnn::tensors::write(&path, &dup, &BTreeMap::new()),
        Err(Error::InvalidTensorName { .. })
    ));
    assert!(rnn::tensors::write(&dir.0, &[("x", x.view())], &BTreeMap::new()).is_err());
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(dir.temp_files(), Vec::<PathBuf>::new());
    // A file that is not safetensors: a plain error, which does not call it a checkpoint.
    let junk = dir.path("junk.safetensors");
    fs::write(&junk, b"not tensors").unwrap();
    match rnn::tensors::read(&junk) {
        Err(e @ Error::CorruptTensors { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("is not a valid safetensors file"), "{msg}");
            assert!(!msg.contains("valid checkpoint"), "{msg}");
        }
        other => panic!("expected CorruptTensors, got {other:?}"),
    }
    // ... while the checkpoint reader still says checkpoint.
    assert!(matches!(
        Checkpoint::load(&junk),
        Err(Error::CorruptCheckpoint { .. })
    ));
}

// -------------------------------------------------------------------------- The one config format

#[test]
fn rnn_config_is_written_canonically_and_old_spellings_are_read() {
    use rnn::cells::{CellConfig, CellKind, GruVariant};
    use rnn::checkpoint::RnnConfig;
    let lstm = RnnConfig {
        cell: CellConfig::new(CellKind::Lstm),
        input_size: 3,
        hidden_size: 5,
        num_layers: 2,
        bidirectional: true,
        dropout: 0.25,
    };
    assert_eq!(
        lstm.to_json(),
        json!({"cell": "lstm", "input_size": 3, "hidden_size": 5, "num_layers": 2,
               "bidirectional": true, "dropout": 0.25})
    );
    assert_eq!(RnnConfig::from_json(&lstm.to_json()).unwrap(), lstm);
    let mut gru = RnnConfig {
        cell: CellConfig::new(CellKind::Gru),
        ..lstm.clone()
    };
    gru.cell.gru_variant = GruVariant::ResetBefore;
    assert_eq!(gru.to_json()["gru_variant"], "reset_before");
    assert_eq!(RnnConfig::from_json(&gru.to_json()).unwrap(), gru);

    let tanh =
        RnnConfig::from_json(&json!({"cell": "rnn_tanh", "input_size": 3, "hidden_size": 4}))
            .unwrap();
    assert_eq!(
        (
            tanh.cell.kind,
            tanh.num_layers,
            tanh.bidirectional,
            tanh.dropout
        ),
        (CellKind::RnnTanh, 1, false, 0.0)
    );
    // Old spellings: `"cell": "rnn"` (CharLm and `rnn train` before), `kind` + `nonlinearity` (the parity
    // fixtures before).
    for (old, kind) in [
        (
            json!({"cell": "rnn", "input_size": 3, "hidden_size": 4}),
            CellKind::RnnTanh,
        ),
        (
            json!({"kind": "rnn", "nonlinearity": "tanh", "input_size": 3, "hidden_size": 4}),
            CellKind::RnnTanh,
        ),
        (
            json!({"kind": "rnn", "nonlinearity": "relu", "input_size": 3, "hidden_size": 4}),
            CellKind::RnnRelu,
        ),
        (
            json!({"kind": "gru", "nonlinearity": null, "input_size": 3, "hidden_size": 4}),
            CellKind::Gru,
        ),
    ] {
        let c = RnnConfig::from_json(&old).unwrap_or_else(|e| panic!("{old}: {e}"));
        assert_eq!(c.cell.kind, kind, "{old}");
        assert_eq!(
            c.to_json()["cell"],
            kind.to_string(),
            "{old}: rewritten canonically"
        );
        assert!(c.to_json().get("kind").is_none());
    }
    // Configs that make no sense are refused, naming the problem.
    for (bad, needle) in [
        (
            json!({"cell": "transformer", "input_size": 3, "hidden_size": 4}),
            "unknown cell kind",
        ),
        (json!({"cell": "lstm", "input_size": 3}), "hidden_size"),
        (
            json!({"cell": "lstm", "input_size": 3, "hidden_size": 0}),
            "hidden size",
        ),
        (
            json!({"cell": "lstm", "input_size": 3, "hidden_size": 4, "gru_variant": "reset_before"}),
            "gru_variant",
        ),
        (
            json!({"cell": "gru", "input_size": 3, "hidden_size": 4, "peephole": true}),
            "peephole",
        ),
        (
            json!({"kind": "lstm", "nonlinearity": "relu", "input_size": 3, "hidden_size": 4}),
            "nonlinearity",
        ),
        (json!([1, 2]), "object"),
    ] {
        match RnnConfig::from_json(&bad) {
            Err(e @ Error::Config(_)) => assert!(e.to_string().contains(needle), "{bad}: {e}"),
            other => panic!("{bad}: expected a config error, got {other:?}"),
        }
    }
}

// ----------------------------------------------------------------- Building a network from a file

/// Every cell variant, deep and bidirectional: `Rnn::save` writes the config, `Rnn::from_checkpoint`
/// rebuilds the network from the file alone, with the same parameters and the same outputs.
#[test]
fn rnn_from_checkpoint_rebuilds_every_cell_variant() {
    use rnn::cells::{AnyCell, CellKind, GruVariant, LstmOptions};
    use rnn::stack::Rnn;
    let dir = Scratch::new("from-checkpoint");
    type MakeCell = fn(usize, usize, &mut rnn::init::Rng) -> AnyCell;
    let makers: Vec<(&str, MakeCell)> = vec![
        ("rnn_tanh", |d, h, r| {
            AnyCell::new(CellKind::RnnTanh, d, h, r)
        }),
        ("rnn_relu", |d, h, r| {
            AnyCell::new(CellKind::RnnRelu, d, h, r)
        }),
        ("lstm", |d, h, r| AnyCell::new(CellKind::Lstm, d, h, r)),
        ("lstm_peephole", |d, h, r| {
            Lstm::with_options(
                d,
                h,
                LstmOptions {
                    peephole: true,
                    ..Default::default()
                },
                r,
            )
            .into()
        }),
        ("lstm_cifg_peephole", |d, h, r| {
            Lstm::with_options(
                d,
                h,
                LstmOptions {
                    peephole: true,
                    cifg: true,
                    forget_bias: 1.0,
                    ..Default::default()
                },
                r,
            )
            .into()
        }),
        ("lstm_cifg", |d, h, r| {
            Lstm::with_options(
                d,
                h,
                LstmOptions {
                    cifg: true,
                    ..Default::default()
                },
                r,
            )
            .into()
        }),
        ("gru", |d, h, r| AnyCell::new(CellKind::Gru, d, h, r)),
        ("gru_reset_before", |d, h, r| {
            Gru::with_variant(d, h, GruVariant::ResetBefore, r).into()
        }),
    ];
    let xs = rnn::init::uniform(&[4, 2, 3], -1.0, 1.0, &mut rnn::init::rng(5))
        .into_dimensionality::<ndarray::Ix3>()
        .unwrap();
    for (name, make) in makers {
        for (layers, bi) in [(1, false), (2, true)] {
            let model = Rnn::new(3, 5, layers, bi, 0.1, make, &mut rnn::init::rng(9)).unwrap();
            let path = dir.path(&format!("{name}-{layers}.safetensors"));
            model.save(&path).unwrap();
            let ck = Checkpoint::load(&path).unwrap();
            let back =
                Rnn::<AnyCell>::from_checkpoint(&ck).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(back.config(), model.config(), "{name}");
            assert_eq!(back.dropout, 0.1, "{name}");
            assert_eq!(bits(&back), bits(&model), "{name}");
            let (a, _, _) = model.forward(xs.view(), None, None);
            let (b, _, _) = back.forward(xs.view(), None, None);
            assert_eq!(a, b, "{name}");
        }
    }
}

#[test]
fn a_config_less_file_is_built_only_when_told_what_shapes_cannot_say() {
    use rnn::cells::{AnyCell, CellKind};
    use rnn::checkpoint::RnnConfig;
    use rnn::stack::Rnn;
    let dir = Scratch::new("config-less");
    let relu = Rnn::new(
        3,
        4,
        2,
        true,
        0.0,
        |d, h, r| AnyCell::new(CellKind::RnnRelu, d, h, r),
        &mut rnn::init::rng(3),
    )
    .unwrap();
    let path = dir.path("bare.safetensors");
    checkpoint::save_params(&path, &relu, None).unwrap(); // as safetensors.torch.save_file(state_dict)
    let ck = Checkpoint::load(&path).unwrap();
    match Rnn::<AnyCell>::from_checkpoint(&ck) {
        Err(e @ Error::MissingConfig { .. }) => {
            let msg = e.to_string();
            eprintln!("{msg}");
            for needle in [
                "no config",
                "tanh",
                "ReLU",
                "RnnConfig::infer",
                "from_checkpoint_with",
            ] {
                assert!(msg.contains(needle), "{msg} lacks {needle:?}");
            }
        }
        other => panic!(
            "expected MissingConfig, got {:?}",
            other.map(|m| m.config())
        ),
    }
    // What shapes say: everything but the nonlinearity, for which infer assumes nn.RNN's default, tanh.
    let mut config = RnnConfig::infer(&ck, "").unwrap();
    assert_eq!(
        (
            config.cell.kind,
            config.input_size,
            config.hidden_size,
            config.num_layers,
            config.bidirectional
        ),
        (CellKind::RnnTanh, 3, 4, 2, true)
    );
    config.cell.kind = CellKind::RnnRelu;
    let back = Rnn::<AnyCell>::from_checkpoint_with(&ck, &config).unwrap();
    assert_eq!(bits(&back), bits(&relu));
    assert_eq!(back.config(), relu.config());
}

// ------------------------------------------------------------------------ PyTorch's state tensors

#[test]
fn pytorch_state_tensors_convert_both_ways_in_h_n_order() {
    use rnn::stack::{states_from_pytorch, states_to_pytorch};
    // (L·dirs, B, H) = (4, 2, 3): entry [i, b, j] = 100 i + 10 b + j.
    let h = ndarray::Array3::from_shape_fn((4, 2, 3), |(i, b, j)| (100 * i + 10 * b + j) as f64);
    let c = h.mapv(|v| -v);
    let states = states_from_pytorch(h.view(), Some(c.view()));
    assert_eq!(states.len(), 4);
    assert_eq!(states[2].h[[1, 0]], 210.0); // layer 1, forward direction (index layer·2 + 0), batch 1
    assert_eq!(states[3].c.as_ref().unwrap()[[0, 2]], -302.0);
    let (h2, c2) = states_to_pytorch(&states);
    assert_eq!(h2, h);
    assert_eq!(c2.unwrap(), c);
    let no_c = states_from_pytorch(h.view(), None);
    assert!(no_c.iter().all(|s| s.c.is_none()));
    assert_eq!(states_to_pytorch(&no_c), (h, None));
}

/// Every LSTM variant of Greff et al. round-trips through `Rnn::save` and `Rnn::from_checkpoint`
/// (config, parameters, outputs), and a checkpoint of one variant does not load into another: a
/// `WrongModel` error whose reason names both.
#[test]
fn every_greff_variant_round_trips_and_refuses_the_others() {
    use rnn::cells::{AnyCell, CellConfig, GreffVariant, LstmOptions};
    use rnn::stack::Rnn;
    let dir = Scratch::new("greff-variants");
    let xs = rnn::init::uniform(&[4, 2, 3], -1.0, 1.0, &mut rnn::init::rng(5))
        .into_dimensionality::<ndarray::Ix3>()
        .unwrap();
    let build = |v: GreffVariant| {
        let make = |d, h, r: &mut rnn::init::Rng| -> AnyCell {
            Lstm::with_options(d, h, LstmOptions::greff(v), r).into()
        };
        Rnn::new(3, 5, 2, true, 0.0, make, &mut rnn::init::rng(9)).unwrap()
    };
    for v in GreffVariant::ALL {
        let model = build(v);
        let path = dir.path(&format!("{}.safetensors", v.name()));
        model.save(&path).unwrap();
        let ck = Checkpoint::load(&path).unwrap();
        let back = Rnn::<AnyCell>::from_checkpoint(&ck).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        assert_eq!(back.config(), model.config(), "{v:?}");
        assert_eq!(
            back.config().unwrap().cell,
            CellConfig::lstm(LstmOptions::greff(v)),
            "{v:?}"
        );
        assert_eq!(bits(&back), bits(&model), "{v:?}");
        let (a, _, _) = model.forward(xs.view(), None, None);
        let (b, _, _) = back.forward(xs.view(), None, None);
        assert_eq!(a, b, "{v:?}");
        for other in GreffVariant::ALL.into_iter().filter(|&o| o != v) {
            let mut wrong = build(other);
            match ck.load_into(&mut wrong) {
                Err(e @ Error::WrongModel { .. }) => {
                    let msg = e.to_string();
                    let (mine, theirs) = (
                        CellConfig::lstm(LstmOptions::greff(v)).describe(),
                        CellConfig::lstm(LstmOptions::greff(other)).describe(),
                    );
                    assert!(
                        msg.contains(&mine) && msg.contains(&theirs),
                        "{v:?} into {other:?}: {msg}"
                    );
                }
                r => panic!("{v:?} into {other:?}: expected WrongModel, got {r:?}"),
            }
        }
    }
    // an old config, without the new keys, still loads as the LSTM it was
    let old =
        serde_json::json!({"cell": "lstm", "input_size": 3, "hidden_size": 5, "peephole": true});
    let config = rnn::checkpoint::RnnConfig::from_json(&old).unwrap();
    assert_eq!(
        config.cell,
        CellConfig::lstm(LstmOptions::greff(GreffVariant::Vanilla))
    );
}
