"""Quality control: agreement, gold items, screening, labeler bias, review and corrections.

- stats.py: the statistics, pure functions (numpy; no SQL) — definitions and sources there;
- gold.py: gold answers (what an admin may say, how a judgement is scored);
- service.py: counting judgements incrementally into bins, the figures, settings, standing;
- queue_policy.py: the one call the labeling queue makes (screening and gold items);
- gold_import.py, review.py, answers.py: gold items, review and history, corrections;
- repository.py: every query; router.py (API) and pages.py (HTML shells).
"""
