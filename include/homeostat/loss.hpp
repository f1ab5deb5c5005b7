// The homeostatic losses of MODEL.md section 7, per chunk of T steps and B
// trials, as a table of terms. Each term is one header under loss/ (its value,
// written once on a generic scalar so that the same code evaluates it in
// double and on dual numbers, and its closed-form gradient coefficients);
// this file lists them. Everything else (the total, the gradient, config
// keys, CSV columns, npz keys, console lines, figures) loops over the table.
//
// Adding a term: its header under loss/, a row here (LossTermTable and
// LossTerm, same position), its weight in io/default_config.cpp, and its
// gradient check in tests/gradcheck.
#pragma once

#include "homeostat/loss/common.hpp"
#include "homeostat/loss/cv.hpp"
#include "homeostat/loss/firing_rate.hpp"
#include "homeostat/loss/membrane_variance.hpp"
#include "homeostat/loss/silent_penalty.hpp"
#include "homeostat/loss/weight_ratio.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace homeostat {

struct Config;

// The table: one type per term with
//   static constexpr const char* name;        // CLI --losses, CSV <name>_loss, npz loss_<name> and grad_<name>_*,
//                                             // config key hyperparameters.loss_weight.<name>
//   static constexpr double reference_weight; // its weight in the reference configuration
//   template <class S> static S value(const LossSums<S>&, const LossTargets&);  // unweighted
//   static void add_gradient(const LossSums<double>&, const LossTargets&, double factor, LossGradient&);
//                                             // adds factor * d(value)
using LossTermTable = std::tuple<FiringRateLoss, CvLoss, SilentPenaltyLoss, MembraneVarianceLoss, WeightRatioLoss>;
// The table's rows by name, in the same order.
enum class LossTerm { firing_rate, cv, silent_penalty, membrane_variance, weight_ratio };

inline constexpr std::size_t n_loss_terms = std::tuple_size_v<LossTermTable>;

struct LossTermInfo {
  LossTerm term;
  std::string_view name;
  double reference_weight;
  void (*add_gradient)(const LossSums<double>&, const LossTargets&, double, LossGradient&);
};

inline constexpr std::array<LossTermInfo, n_loss_terms> loss_terms = []<std::size_t... k>(std::index_sequence<k...>) {
  return std::array<LossTermInfo, n_loss_terms>{
      LossTermInfo{static_cast<LossTerm>(k), std::tuple_element_t<k, LossTermTable>::name,
                   std::tuple_element_t<k, LossTermTable>::reference_weight,
                   &std::tuple_element_t<k, LossTermTable>::add_gradient}...};
}(std::make_index_sequence<n_loss_terms>{});

inline constexpr std::array<LossTerm, n_loss_terms> all_loss_terms = [] {
  std::array<LossTerm, n_loss_terms> a{};
  for (std::size_t k = 0; k < n_loss_terms; ++k) a[k] = loss_terms[k].term;
  return a;
}();

inline constexpr std::array<double, n_loss_terms> reference_loss_weights = [] {
  std::array<double, n_loss_terms> a{};
  for (std::size_t k = 0; k < n_loss_terms; ++k) a[k] = loss_terms[k].reference_weight;
  return a;
}();

constexpr std::size_t index_of(LossTerm term) { return static_cast<std::size_t>(term); }
std::string to_string(LossTerm term);               // "firing_rate", ...
LossTerm parse_loss_term(const std::string& name);  // throws std::invalid_argument
std::string loss_weight_key(LossTerm term);         // "hyperparameters.loss_weight.firing_rate", ...

// The terms' constants plus their weighting in the total.
struct LossContext : LossTargets {
  std::array<double, n_loss_terms> weights = reference_loss_weights;  // by LossTerm
  double scale = 1.0;                   // 1 / chunks_per_update
};
LossContext loss_context(const Config& config, const std::vector<std::int32_t>& cell_type, std::int64_t batch,
                         std::int64_t steps);

template <class S>
struct LossValues {
  S term[n_loss_terms] = {};  // by LossTerm, unweighted
  S total = {};               // scale * sum_k weight_k term_k
};

template <class S>
LossValues<S> evaluate_losses(const LossSums<S>& sums, const LossContext& c) {
  LossValues<S> out;
  [&]<std::size_t... k>(std::index_sequence<k...>) {
    ((out.term[k] = std::tuple_element_t<k, LossTermTable>::template value<S>(sums, c)), ...);
  }(std::make_index_sequence<n_loss_terms>{});
  out.total = S(0);
  for (std::size_t k = 0; k < n_loss_terms; ++k) out.total = out.total + out.term[k] * (c.weights[k] * c.scale);
  return out;
}

// The derivative of the weighted total (LossGradient's coefficients) in
// closed form. `only` restricts to one term, unweighted (nullptr: all, weighted).
LossGradient loss_gradient(const LossSums<double>& sums, const LossContext& c, const LossTerm* only = nullptr);

}  // namespace homeostat
