//! The LSTM step loop, written here over burn's `Lstm` parameters. burn 0.22's forward runs
//! eight matrix products per step (input and hidden state for each gate, each adding its
//! bias) and writes every step's state into one output tensor with `slice_assign`, whose
//! backward copies the whole output once per step. This loop multiplies each step's input
//! and the hidden state by the four gates' weights at once (two products), applies one
//! sigmoid to the three sigmoid gates, and stacks the steps once at the end: the same
//! function (tested against burn's forward, values and gradients) in fewer operations, which
//! is what the CPU backends pay for (the training profile: per-operation overhead and
//! copies). The input is not projected for all steps in one product: cutting that product
//! into steps costs a zero-filled copy of it per step in the backward pass (burn's slice
//! gradient), more than the products save. The parameters stay burn's `Lstm`, so
//! checkpoints and the ONNX export read them as before.

use burn::nn::Lstm;
use burn::tensor::{Tensor, s};

/// The hidden states `[batch, time, hidden]` of `l` over `x` `[batch, time, input]` from a
/// zero state, read forwards or (`reverse`) from the last step to the first.
pub(crate) fn lstm(l: &Lstm, x: Tensor<3>, reverse: bool) -> Tensor<3> {
    #[cfg(feature = "tch")]
    if crate::torch_graph::applies(&x.device()) && l.clip.is_none() {
        return torch_lstm(l, x, reverse);
    }
    let [b, t, _] = x.dims();
    let (h, device) = (l.d_hidden, x.device());
    let forget = l
        .forget_gate
        .as_ref()
        .expect("ser builds LSTMs with a forget gate");
    // Gate order in the fused products: input, forget, output (sigmoid), cell (tanh).
    let gates = [&l.input_gate, forget, &l.output_gate, &l.cell_gate];
    let w_in = Tensor::cat(
        gates
            .iter()
            .map(|g| g.input_transform.weight.val())
            .collect(),
        1,
    );
    let w_hidden = Tensor::cat(
        gates
            .iter()
            .map(|g| g.hidden_transform.weight.val())
            .collect(),
        1,
    );
    let biases: Vec<Tensor<1>> = gates
        .iter()
        .flat_map(|g| [&g.input_transform, &g.hidden_transform])
        .filter_map(|lin| lin.bias.as_ref().map(|p| p.val()))
        .collect();
    let bias = (biases.len() == 8).then(|| {
        let pair = |k: usize| biases[2 * k].clone() + biases[2 * k + 1].clone();
        Tensor::cat((0..4).map(pair).collect(), 0).unsqueeze_dim::<2>(0)
    });
    let mut hidden = Tensor::<2>::zeros([b, h], &device);
    let mut cell = Tensor::<2>::zeros([b, h], &device);
    let mut out = Vec::with_capacity(t);
    for i in 0..t {
        let k = if reverse { t - 1 - i } else { i };
        let x_k = x.clone().slice(s![.., k, ..]).squeeze_dim::<2>(1);
        let mut g = x_k.matmul(w_in.clone()) + hidden.matmul(w_hidden.clone());
        if let Some(bias) = &bias {
            g = g + bias.clone();
        }
        let sig = l.gate_activation.forward(g.clone().slice(s![.., 0..3 * h]));
        let candidate = l.cell_activation.forward(g.slice(s![.., 3 * h..4 * h]));
        let input = sig.clone().slice(s![.., 0..h]);
        let forget = sig.clone().slice(s![.., h..2 * h]);
        let output = sig.slice(s![.., 2 * h..3 * h]);
        cell = forget * cell + input * candidate;
        if let Some(clip) = l.clip {
            cell = cell.clamp(-clip, clip);
        }
        hidden = output * l.hidden_activation.forward(cell.clone());
        out.push(hidden.clone());
    }
    if reverse {
        out.reverse();
    }
    Tensor::stack(out, 1)
}

/// [`lstm`] in training on LibTorch: libtorch's own LSTM (oneDNN's fused cell on the CPU,
/// forward and backward), with the gates' weights stacked in PyTorch's order and layout.
/// ser's LSTMs use burn's default activations (sigmoid gates, tanh cell), as PyTorch's.
#[cfg(feature = "tch")]
fn torch_lstm(l: &Lstm, x: Tensor<3>, reverse: bool) -> Tensor<3> {
    let forget = l
        .forget_gate
        .as_ref()
        .expect("ser builds LSTMs with a forget gate");
    // PyTorch's gate order: input, forget, cell, output.
    let gates = [&l.input_gate, forget, &l.cell_gate, &l.output_gate];
    let stack = |w: Vec<Tensor<2>>| Tensor::cat(w, 1).swap_dims(0, 1);
    let w_ih = stack(
        gates
            .iter()
            .map(|g| g.input_transform.weight.val())
            .collect(),
    );
    let w_hh = stack(
        gates
            .iter()
            .map(|g| g.hidden_transform.weight.val())
            .collect(),
    );
    let device = x.device();
    let bias = |lin: &burn::nn::Linear| match &lin.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([l.d_hidden], &device),
    };
    let bias = Tensor::cat(
        gates
            .iter()
            .map(|g| bias(&g.input_transform) + bias(&g.hidden_transform))
            .collect(),
        0,
    );
    crate::torch_graph::lstm(x, w_ih, w_hh, bias, reverse)
}

#[cfg(test)]
mod tests {
    use burn::nn::{BiLstmConfig, LstmConfig};
    use burn::tensor::{Device, Distribution, Tensor};

    use super::lstm;

    fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn fused_steps_equal_burns_lstm_in_values_and_gradients() {
        let dev: Device = burn::backend::FlexDevice.into();
        let dev = dev.autodiff();
        dev.seed(7);
        let bi = BiLstmConfig::new(6, 5, true).init(&dev);
        let x = Tensor::<3>::random([3, 9, 6], Distribution::Normal(0.0, 1.0), &dev);
        let theirs = bi.forward(x.clone(), None).0;
        let ours = Tensor::cat(
            vec![
                lstm(&bi.forward, x.clone(), false),
                lstm(&bi.reverse, x, true),
            ],
            2,
        );
        ser_check::assert_all_close(
            &flat(ours.clone()),
            &flat(theirs.clone()),
            1e-5,
            "BiLSTM outputs, fused vs burn",
        );
        // Gradients of a weighted sum reach every weight the same way.
        let w = Tensor::<3>::random([3, 9, 10], Distribution::Normal(0.0, 1.0), &dev);
        let g_ours = (ours * w.clone()).sum().backward();
        let g_theirs = (theirs * w).sum().backward();
        for (name, p) in [
            (
                "forward input weight",
                &bi.forward.input_gate.input_transform.weight,
            ),
            (
                "forward hidden weight",
                &bi.forward.cell_gate.hidden_transform.weight,
            ),
            (
                "reverse forget weight",
                &bi.reverse
                    .forget_gate
                    .as_ref()
                    .unwrap()
                    .input_transform
                    .weight,
            ),
        ] {
            let a = flat(p.val().grad(&g_ours).expect("gradient"));
            let b = flat(p.val().grad(&g_theirs).expect("gradient"));
            ser_check::assert_all_close(&a, &b, 1e-4, name);
            assert!(b.iter().any(|&v| v != 0.0), "{name}: zero gradient");
        }
        let bias = bi
            .reverse
            .output_gate
            .hidden_transform
            .bias
            .as_ref()
            .unwrap();
        let (a, b) = (
            bias.val().grad(&g_ours).unwrap(),
            bias.val().grad(&g_theirs).unwrap(),
        );
        ser_check::assert_all_close(&flat(a), &flat(b), 1e-4, "reverse output bias");
        let uni = LstmConfig::new(6, 4, true).init(&dev);
        let x = Tensor::<3>::random([2, 5, 6], Distribution::Normal(0.0, 1.0), &dev);
        ser_check::assert_all_close(
            &flat(lstm(&uni, x.clone(), false)),
            &flat(uni.forward(x, None).0),
            1e-5,
            "LSTM outputs, fused vs burn",
        );
    }

    /// On LibTorch the LSTM runs as libtorch's (torch_graph.rs); it must equal burn's.
    #[cfg(feature = "tch")]
    #[test]
    fn recorded_lstm_equals_burns_in_values_and_gradients() {
        use crate::torch_graph::tests::{device, flat, same_grad, val};

        let dev = device(7);
        let bi = BiLstmConfig::new(6, 5, true).init(&dev);
        let x = Tensor::<3>::random([3, 9, 6], Distribution::Normal(0.0, 1.0), &dev);
        let (x1, x2) = (x.clone().require_grad(), x.require_grad());
        let ours = Tensor::cat(
            vec![
                super::lstm(&bi.forward, x1.clone(), false),
                super::lstm(&bi.reverse, x1.clone(), true),
            ],
            2,
        );
        let theirs = bi.forward(x2.clone(), None).0;
        ser_check::assert_all_close(&flat(ours.clone()), &flat(theirs.clone()), 1e-5, "lstm");
        let w = Tensor::<3>::random([3, 9, 10], Distribution::Normal(0.0, 1.0), &dev);
        let g1 = (ours * w.clone()).sum().backward();
        let g2 = (theirs * w).sum().backward();
        let (a, b) = (flat(x1.grad(&g1).unwrap()), flat(x2.grad(&g2).unwrap()));
        ser_check::assert_all_close(&a, &b, 1e-4, "lstm input gradient");
        let forget = bi.reverse.forget_gate.as_ref().unwrap();
        let f = &bi.forward;
        same_grad(
            "input weight",
            &val(&f.input_gate.input_transform.weight),
            &g1,
            &g2,
        );
        same_grad(
            "cell weight",
            &val(&f.cell_gate.hidden_transform.weight),
            &g1,
            &g2,
        );
        same_grad(
            "reverse forget",
            &val(&forget.input_transform.weight),
            &g1,
            &g2,
        );
        let out = &bi.reverse.output_gate.hidden_transform;
        same_grad("reverse output", &val(&out.weight), &g1, &g2);
        let bias = bi.reverse.cell_gate.input_transform.bias.as_ref().unwrap();
        same_grad("reverse cell bias", &val(bias), &g1, &g2);
    }
}
