-- Prefect's own database beside govcal's, owned by the same role (first start only).
CREATE DATABASE prefect OWNER govcal;
