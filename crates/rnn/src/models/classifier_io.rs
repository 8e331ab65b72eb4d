//! Saving and loading a [`Classifier`] through [`crate::checkpoint`].

use super::classifier::{Classifier, ClassifierConfig};
use crate::checkpoint::RnnConfig;
use crate::{Error, Result};

impl Classifier {
    /// The model's configuration.
    pub fn config(&self) -> ClassifierConfig {
        ClassifierConfig {
            rnn: self
                .rnn
                .config()
                .expect("the library's cells report their config"),
            input: self.input,
            readout: self.readout,
            num_outputs: self.head.out_features(),
        }
    }

    /// The configuration as stored in checkpoints: `{"rnn": <RnnConfig JSON>, "input": ..., "readout":
    /// ..., "num_outputs": K}`.
    pub fn config_json(&self) -> serde_json::Value {
        let c = self.config();
        serde_json::json!({
            "rnn": c.rnn.to_json(),
            "input": c.input,
            "readout": c.readout,
            "num_outputs": c.num_outputs,
        })
    }

    /// Saves the model as a checkpoint ([`crate::checkpoint`]): its tensors under the names of
    /// [`crate::params::Parameters::params`] and `{"classifier": <config>}` as the JSON config, atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let config = serde_json::json!({ "classifier": self.config_json() });
        crate::checkpoint::save_params(path, self, Some(&config))
    }

    /// Loads a model saved by [`Classifier::save`]; errors name the file and what is wrong.
    pub fn load(path: &std::path::Path) -> Result<Classifier> {
        let ckpt = crate::checkpoint::Checkpoint::load(path)?;
        let corrupt = |reason: String| Error::CorruptCheckpoint {
            path: path.to_path_buf(),
            reason,
        };
        let value = ckpt
            .config
            .as_ref()
            .and_then(|c| c.get("classifier"))
            .ok_or_else(|| corrupt("it has no classifier configuration (`classifier`)".into()))?;
        let field = |key: &str| {
            value
                .get(key)
                .cloned()
                .ok_or_else(|| corrupt(format!("its classifier configuration has no `{key}`")))
        };
        let parse = |e: serde_json::Error| corrupt(format!("bad classifier configuration ({e})"));
        let config = ClassifierConfig {
            rnn: RnnConfig::from_json(&field("rnn")?)?,
            input: serde_json::from_value(field("input")?).map_err(parse)?,
            readout: serde_json::from_value(field("readout")?).map_err(parse)?,
            num_outputs: serde_json::from_value(field("num_outputs")?).map_err(parse)?,
        };
        let mut model = Classifier::new(&config, &mut crate::init::rng(0))?;
        ckpt.load_into(&mut model)?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cells::CellKind;
    use crate::models::classifier::{InputConfig, Readout, SeqInput};
    use crate::params::Parameters;

    #[test]
    fn names_and_save_load_round_trip() {
        let config = ClassifierConfig::new(
            CellKind::Lstm,
            InputConfig::Embedding { vocab: 6, dim: 3 },
            4,
            Readout::Mean,
            5,
        )
        .layers(2)
        .bidirectional(true)
        .dropout(0.1);
        let model = Classifier::new(&config, &mut crate::init::rng(4)).unwrap();
        let names: Vec<String> = model.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "encoder.weight");
        assert_eq!(names[1], "rnn.weight_ih_l0");
        assert!(names.contains(&"rnn.bias_hh_l1_reverse".to_string()));
        assert_eq!(names[names.len() - 2..], ["head.weight", "head.bias"]);
        assert_eq!(model.config(), config);
        let dir = std::env::temp_dir().join(format!("rnn-classifier-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        model.save(&path).unwrap();
        let back = Classifier::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(back.config(), config);
        for ((n, a), (_, b)) in model.params().iter().zip(back.params()) {
            assert_eq!(a, &b, "{n}");
        }
        let ids = ndarray::array![[1, 2], [3, 5]];
        let x = SeqInput::Tokens(ids.view());
        assert_eq!(
            model.forward(x, Some(&[2, 1]), None).0,
            back.forward(x, Some(&[2, 1]), None).0
        );
    }
}
