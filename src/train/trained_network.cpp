#include "homeostat/train.hpp"

#include <cmath>
#include <limits>

namespace homeostat {

Network trained_network(const Config& config, const Network& initial, const TrainerState& state) {
  // The trainer maps parameters to weights (and checks the state's shapes):
  // one implementation of that mapping for training and for export.
  Trainer trainer(config, initial, state.method);
  trainer.restore(state);
  return trained_network(initial, trainer);
}

Network trained_network(const Network& initial, const Trainer& trainer) {
  const LoweredModel<float>& lm = trainer.model();
  Network net = initial;
  net.recurrent.weight.assign(lm.rec_weight.begin(), lm.rec_weight.end());
  net.feedforward.weight.assign(lm.ff_weight.begin(), lm.ff_weight.end());
  return net;
}

namespace {

// mean(now) / mean(initial) - 1 per block of one connection matrix (CSR rows
// by presynaptic neuron); the initial weights are taken as float32, the
// precision the trainer holds them in, so that an untouched block reads 0.
template <class Real>
std::vector<double> change_by_block(const Csr& initial, const std::vector<Real>& now,
                                    const std::vector<std::int32_t>& pre_type,
                                    const std::vector<std::int32_t>& post_type, std::size_t n_pre_types,
                                    std::size_t n_post_types) {
  std::vector<double> sum0(n_pre_types * n_post_types, 0.0), sum(sum0.size(), 0.0);
  for (std::int64_t j = 0; j < initial.n_pre; ++j)
    for (std::int64_t e = initial.row_ptr[j]; e < initial.row_ptr[j + 1]; ++e) {
      const std::size_t block = static_cast<std::size_t>(pre_type[j]) * n_post_types +
                                static_cast<std::size_t>(post_type[initial.post[e]]);
      sum0[block] += static_cast<double>(static_cast<float>(initial.weight[e]));
      sum[block] += static_cast<double>(now[e]);
    }
  for (std::size_t b = 0; b < sum.size(); ++b)
    sum[b] = sum0[b] > 0 ? sum[b] / sum0[b] - 1.0 : std::numeric_limits<double>::quiet_NaN();
  return sum;
}

}  // namespace

BlockWeightChange block_weight_change(const Network& initial, const Trainer& trainer) {
  const LoweredModel<float>& lm = trainer.model();
  const std::size_t nt = lm.rec_first.size(), ni = lm.ff_first.size();
  return {change_by_block(initial.recurrent, lm.rec_weight, initial.cell_type, initial.cell_type, nt, nt),
          change_by_block(initial.feedforward, lm.ff_weight, initial.input_type, initial.cell_type, ni, nt)};
}

}  // namespace homeostat
