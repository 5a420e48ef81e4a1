"""Citizens' personal data (Decree 13/2023/NĐ-CP, Law 91/2025/QH15): export, account deletion, retention."""
