#include "homeostat/train.hpp"

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

}  // namespace homeostat
