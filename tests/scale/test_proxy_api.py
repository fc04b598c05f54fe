"""The API tests of the embedded store, run through nginx against three app processes that share
their sessions in Redis: consecutive requests of one test reach different processes, so each
one passes only if every session's configuration, trainer and history live in Redis."""

from __future__ import annotations

from tests.api.test_api import (  # noqa: F401 - collected here with this folder's client
    test_a_request_that_does_not_fit_the_session_is_a_conflict,
    test_bad_request_leaves_the_session_unchanged,
    test_change_config,
    test_concurrent_steps_on_one_session_add_up,
    test_create_with_defaults_and_with_a_partial_config,
    test_delete,
    test_divergence_is_flagged_and_frames_stay_finite,
    test_learning_rate_change_keeps_weights_and_dataset_change_starts_over,
    test_model_download,
    test_read_session,
    test_reset_same_seed_gives_the_initial_weights_of_a_fresh_session,
    test_reset_with_a_new_seed_changes_the_config_the_data_and_the_weights,
    test_set_weight_and_bias,
    test_step_and_frame,
    test_two_tabs_with_one_config_start_alike_and_train_apart,
    test_unknown_session_is_404,
)
