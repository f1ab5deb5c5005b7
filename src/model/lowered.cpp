#include "homeostat/model.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace homeostat {

double dual_exp_peak(double tau_rise, double tau_decay) {
  const double r = tau_rise / tau_decay;
  return std::pow(r, r / (1.0 - r)) - std::pow(r, 1.0 / (1.0 - r));
}

std::vector<ReceptorColumn> receptor_columns(const Config& config) {
  std::vector<ReceptorColumn> cols;
  auto add = [&](const std::vector<std::string>& types, const std::vector<std::vector<ReceptorConfig>>& syn,
                 bool feedforward) {
    for (std::size_t t = 0; t < types.size(); ++t) {
      for (const auto& r : syn[t]) {
        ReceptorColumn c;
        c.name = r.name;
        c.source = types[t];
        c.feedforward = feedforward;
        c.presyn_type = static_cast<std::int32_t>(t);
        c.receptor = r;
        c.eta = dual_exp_peak(r.tau_rise, r.tau_decay);
        c.g_max = r.g_bar / c.eta;
        cols.push_back(std::move(c));
      }
    }
  };
  add(config.recurrent.type_names, config.recurrent.synapses, false);
  add(config.feedforward.type_names, config.feedforward.synapses, true);
  return cols;
}

std::vector<std::string> receptor_labels(const std::vector<ReceptorColumn>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(c.source + ":" + c.name);
  return out;
}

template <class Real>
LoweredModel<Real> lower(const Config& config, const Network& net) {
  LoweredModel<Real> lm;
  const double dt = config.simulation.dt;
  lm.n = net.n;
  lm.m = net.m;
  lm.dt = static_cast<Real>(dt);
  lm.saturate = config.simulation.saturate;
  lm.cell_type = net.cell_type;
  lm.input_type = net.input_type;

  for (std::int64_t i = 0; i < net.n; ++i) {
    const auto& p = config.recurrent.physiology.at(net.cell_type[i]);
    lm.theta.push_back(static_cast<Real>(p.theta));
    lm.u_reset.push_back(static_cast<Real>(p.U_reset));
    lm.e_leak.push_back(static_cast<Real>(p.E_L));
    lm.beta.push_back(static_cast<Real>(std::exp(-dt / p.tau_mem)));
    lm.dt_over_cm.push_back(static_cast<Real>(dt / (p.tau_mem * p.g_L)));
    lm.n_ref.push_back(static_cast<std::int32_t>(std::llround(p.tau_ref / dt)));
  }

  const auto cols = receptor_columns(config);
  if (cols.size() > static_cast<std::size_t>(max_receptor_columns))
    throw std::invalid_argument(std::to_string(cols.size()) + " receptor columns: at most " +
                                std::to_string(max_receptor_columns));
  lm.n_receptors = static_cast<std::int64_t>(cols.size());
  lm.rec_first.assign(config.recurrent.type_names.size(), 0);
  lm.rec_count.assign(config.recurrent.type_names.size(), 0);
  lm.ff_first.assign(config.feedforward.type_names.size(), 0);
  lm.ff_count.assign(config.feedforward.type_names.size(), 0);
  for (std::size_t k = 0; k < cols.size(); ++k) {
    const auto& c = cols[k];
    lm.alpha_rise.push_back(static_cast<Real>(std::exp(-dt / c.receptor.tau_rise)));
    lm.alpha_decay.push_back(static_cast<Real>(std::exp(-dt / c.receptor.tau_decay)));
    lm.e_syn.push_back(static_cast<Real>(c.receptor.E_syn));
    lm.g_max.push_back(static_cast<Real>(c.g_max));
    auto& first = c.feedforward ? lm.ff_first : lm.rec_first;
    auto& count = c.feedforward ? lm.ff_count : lm.rec_count;
    if (count[c.presyn_type]++ == 0) first[c.presyn_type] = static_cast<std::int32_t>(k);
  }

  lm.rec_row = net.recurrent.row_ptr;
  lm.rec_post = net.recurrent.post;
  lm.rec_weight.assign(net.recurrent.weight.begin(), net.recurrent.weight.end());
  lm.ff_row = net.feedforward.row_ptr;
  lm.ff_post = net.feedforward.post;
  lm.ff_weight.assign(net.feedforward.weight.begin(), net.feedforward.weight.end());
  return lm;
}

template LoweredModel<float> lower<float>(const Config&, const Network&);
template LoweredModel<double> lower<double>(const Config&, const Network&);

}  // namespace homeostat
