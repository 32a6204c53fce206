ALTER TABLE tenants DROP COLUMN platform_access;
