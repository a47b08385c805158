//! [`ProfileMetadata`] in SQL (SQLite or PostgreSQL).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;
use tapedeck_core::{Profile, ProfileUse};
use time::OffsetDateTime;

use super::sql::{contains_pattern, from_micros, micros, opt_from_micros, page};
use super::{Page, ProfileFilter, ProfileMetadata, SqlMetadata};
use crate::StoreError;

/// How long a claim whose session was never stored holds, in microseconds: longer than any
/// launch (restore included) takes, so past it the create that claimed the profile has failed.
const UNSTORED_CLAIM_MICROS: i64 = 10 * 60 * 1_000_000;

impl SqlMetadata {
    /// SQL that is true for a `profiles` row a session holds: its session is running, or it
    /// is not stored yet (a create between its claim and its session row) and claimed it
    /// recently.
    fn held(&self) -> String {
        format!(
            "(profiles.in_use_by IS NOT NULL AND (
                EXISTS (SELECT 1 FROM sessions s
                        WHERE s.id = profiles.in_use_by AND s.state = 'running')
                OR (NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = profiles.in_use_by)
                    AND profiles.in_use_since > {} - {UNSTORED_CLAIM_MICROS})))",
            self.database_now()
        )
    }

    /// `SELECT` of profile rows with their live holder as `holder`; add the `WHERE`.
    fn select_profiles(&self) -> String {
        format!(
            "SELECT profiles.*, CASE WHEN {} THEN profiles.in_use_by END AS holder FROM profiles",
            self.held()
        )
    }
}

fn profile_from_row(row: &AnyRow) -> Result<Profile, StoreError> {
    let holder: Option<String> = row.try_get("holder")?;
    let save_changes = row.try_get::<i64, _>("save_changes")? != 0;
    let archive_bytes = row
        .try_get::<Option<i64>, _>("archive_bytes")?
        .map(|v| u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("archive size {v}"))))
        .transpose()?;
    Ok(Profile {
        id: row.try_get("id")?,
        project: row.try_get("project")?,
        name: row.try_get("name")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: opt_from_micros(row.try_get("updated_at")?)?,
        last_used_at: opt_from_micros(row.try_get("last_used_at")?)?,
        archive_bytes,
        in_use: holder.map(|session_id| ProfileUse {
            session_id,
            save_changes,
        }),
    })
}

/// A unique-index violation as [`StoreError::Duplicate`] (the name is the only unique column a
/// client chooses); any other failure as it is.
fn name_taken(e: sqlx::Error, name: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(format!("a profile named {name:?}"))
        }
        _ => e.into(),
    }
}

#[async_trait]
impl ProfileMetadata for SqlMetadata {
    async fn insert_profile(&self, profile: &Profile) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO profiles (id, project, name, created_at, updated_at, last_used_at,
                archive_bytes)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&profile.id)
        .bind(&profile.project)
        .bind(&profile.name)
        .bind(micros(profile.created_at))
        .bind(profile.updated_at.map(micros))
        .bind(profile.last_used_at.map(micros))
        .bind(profile.archive_bytes.map(|b| b as i64))
        .execute(&self.pool)
        .await
        .map_err(|e| name_taken(e, profile.name.as_deref().unwrap_or_default()))?;
        Ok(())
    }

    async fn find_profile(
        &self,
        project: &str,
        id_or_name: &str,
    ) -> Result<Option<Profile>, StoreError> {
        // An id wins over a name.
        let row = sqlx::query(&format!(
            "{} WHERE project = $1 AND (id = $2 OR name = $2) ORDER BY (id = $2) DESC LIMIT 1",
            self.select_profiles()
        ))
        .bind(project)
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(profile_from_row).transpose()
    }

    async fn list_profiles(
        &self,
        project: &str,
        filter: &ProfileFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Profile>, StoreError> {
        // One extra row tells whether another page exists without a COUNT query.
        let rows = sqlx::query(&format!(
            "{} WHERE project = $1 AND ($2 IS NULL OR name = $2)
               AND ($3 IS NULL OR LOWER(id) LIKE $3 ESCAPE '\\'
                    OR LOWER(COALESCE(name, '')) LIKE $3 ESCAPE '\\')
             ORDER BY created_at, id LIMIT $4 OFFSET $5",
            self.select_profiles()
        ))
        .bind(project)
        .bind(&filter.name)
        .bind(filter.query.as_deref().map(contains_pattern))
        .bind(i64::from(limit) + 1)
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        page(&rows, limit, profile_from_row)
    }

    async fn rename_profile(
        &self,
        id: &str,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE profiles SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(micros(at))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| name_taken(e, name))?;
        Ok(())
    }

    async fn delete_profile(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "DELETE FROM profiles WHERE id = $1 AND NOT {}",
            self.held()
        ))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_profile(
        &self,
        id: &str,
        session_id: &str,
        save_changes: bool,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // One statement: of two sessions claiming at once, the second sees the first's claim
        // (PostgreSQL re-checks the condition on the row the first updated).
        let done = sqlx::query(&format!(
            "UPDATE profiles SET in_use_by = $1, in_use_since = {now}, save_changes = $2,
                last_used_at = $3
             WHERE id = $4 AND NOT {held}",
            now = self.database_now(),
            held = self.held()
        ))
        .bind(session_id)
        .bind(i64::from(save_changes))
        .bind(micros(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_profile(&self, id: &str, session_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE profiles SET in_use_by = NULL, in_use_since = NULL
             WHERE id = $1 AND in_use_by = $2",
        )
        .bind(id)
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn profile_saved(
        &self,
        id: &str,
        archive_bytes: u64,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE profiles SET archive_bytes = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::try_from(archive_bytes).unwrap_or(i64::MAX))
            .bind(micros(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn profile_of_session(&self, session_id: &str) -> Result<Option<Profile>, StoreError> {
        let row = sqlx::query(&format!("{} WHERE in_use_by = $1", self.select_profiles()))
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(profile_from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use tapedeck_core::{Session, SessionSpec, SessionState, Viewport};

    use super::*;
    use crate::meta::Metadata;

    async fn meta(dir: &tempfile::TempDir) -> SqlMetadata {
        SqlMetadata::open_sqlite(&dir.path().join("t.db"))
            .await
            .unwrap()
    }

    fn now() -> OffsetDateTime {
        from_micros(micros(OffsetDateTime::now_utc())).unwrap()
    }

    fn profile(id: &str, project: &str, name: Option<&str>) -> Profile {
        Profile {
            id: id.into(),
            project: project.into(),
            name: name.map(Into::into),
            created_at: now(),
            updated_at: None,
            last_used_at: None,
            archive_bytes: None,
            in_use: None,
        }
    }

    async fn running_session(meta: &SqlMetadata, id: &str) {
        let session = Session {
            id: id.into(),
            project: "team-a".into(),
            spec: SessionSpec::browser(Viewport::default(), 60),
            state: SessionState::Running,
            created_at: now(),
            deleted_at: None,
            end_reason: None,
            node: None,
        };
        meta.insert_session(&session).await.unwrap();
    }

    #[tokio::test]
    async fn profiles_are_found_by_id_or_name_within_their_project_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let meta = meta(&dir).await;
        meta.insert_profile(&profile("p1", "team-a", Some("work")))
            .await
            .unwrap();
        meta.insert_profile(&profile("p2", "team-a", None))
            .await
            .unwrap();
        // Another project may reuse the name; the same project may not.
        meta.insert_profile(&profile("p3", "team-b", Some("work")))
            .await
            .unwrap();
        let taken = meta
            .insert_profile(&profile("p4", "team-a", Some("work")))
            .await;
        assert!(matches!(taken, Err(StoreError::Duplicate(_))), "{taken:?}");

        let by_name = meta.find_profile("team-a", "work").await.unwrap().unwrap();
        assert_eq!((by_name.id.as_str(), by_name.in_use), ("p1", None));
        assert_eq!(
            meta.find_profile("team-b", "p1").await.unwrap(),
            None,
            "another project's id"
        );
        meta.rename_profile("p2", "home", now()).await.unwrap();
        assert!(matches!(
            meta.rename_profile("p2", "work", now()).await,
            Err(StoreError::Duplicate(_))
        ));
        let renamed = meta.find_profile("team-a", "home").await.unwrap().unwrap();
        assert_eq!(renamed.id, "p2");
        assert!(renamed.updated_at.is_some());
    }

    #[tokio::test]
    async fn listings_filter_by_exact_name_or_by_a_substring_of_name_or_id() {
        let dir = tempfile::tempdir().unwrap();
        let meta = meta(&dir).await;
        for (id, name) in [("aa1", "Shop_main"), ("bb2", "shop-b"), ("cc3", "news")] {
            meta.insert_profile(&profile(id, "team-a", Some(name)))
                .await
                .unwrap();
        }
        let ids = |page: Page<Profile>| page.items.into_iter().map(|p| p.id).collect::<Vec<_>>();
        let all = ProfileFilter::default();
        let first = meta.list_profiles("team-a", &all, 2, 0).await.unwrap();
        assert!(first.has_more);
        assert_eq!(ids(first), ["aa1", "bb2"]);
        let rest = meta.list_profiles("team-a", &all, 2, 2).await.unwrap();
        assert!(!rest.has_more);
        assert_eq!(ids(rest), ["cc3"]);

        let search = |name: Option<&str>, query: Option<&str>| ProfileFilter {
            name: name.map(Into::into),
            query: query.map(Into::into),
        };
        let list = |filter: ProfileFilter| {
            let meta = meta.clone();
            async move { ids(meta.list_profiles("team-a", &filter, 10, 0).await.unwrap()) }
        };
        assert_eq!(list(search(Some("news"), None)).await, ["cc3"]);
        assert_eq!(list(search(None, Some("SHOP"))).await, ["aa1", "bb2"]);
        assert_eq!(list(search(None, Some("B2"))).await, ["bb2"]);
        // `_` and `%` match themselves, not any character.
        assert_eq!(list(search(None, Some("p_"))).await, ["aa1"]);
        assert!(list(search(None, Some("%"))).await.is_empty());
        assert!(meta
            .list_profiles("team-b", &all, 10, 0)
            .await
            .unwrap()
            .items
            .is_empty());
    }

    #[tokio::test]
    async fn one_session_holds_a_profile_until_it_releases_it_or_ends() {
        let dir = tempfile::tempdir().unwrap();
        let meta = meta(&dir).await;
        meta.insert_profile(&profile("p1", "team-a", Some("work")))
            .await
            .unwrap();
        // Claimed by a session being created (no row yet): held, and shown as in use.
        assert!(meta.claim_profile("p1", "s1", true, now()).await.unwrap());
        assert!(!meta.claim_profile("p1", "s2", false, now()).await.unwrap());
        assert!(!meta.delete_profile("p1").await.unwrap());
        running_session(&meta, "s1").await;
        let held = meta.profile_of_session("s1").await.unwrap().unwrap();
        assert_eq!(
            held.in_use,
            Some(ProfileUse {
                session_id: "s1".into(),
                save_changes: true
            })
        );
        assert!(held.last_used_at.is_some());
        assert!(!meta.claim_profile("p1", "s2", false, now()).await.unwrap());

        // Released, it is free again.
        meta.release_profile("p1", "s1").await.unwrap();
        assert_eq!(meta.profile_of_session("s1").await.unwrap(), None);
        assert!(meta.claim_profile("p1", "s2", false, now()).await.unwrap());
        // Another session's release changes nothing.
        meta.release_profile("p1", "s1").await.unwrap();
        assert!(!meta.claim_profile("p1", "s3", false, now()).await.unwrap());

        // A claim whose session ended without releasing it (a crash) has lapsed.
        running_session(&meta, "s2").await;
        meta.mark_session_deleted("s2", now()).await.unwrap();
        let lapsed = meta.find_profile("team-a", "p1").await.unwrap().unwrap();
        assert_eq!(lapsed.in_use, None);
        assert!(meta.claim_profile("p1", "s3", false, now()).await.unwrap());
        meta.release_profile("p1", "s3").await.unwrap();

        meta.profile_saved("p1", 1234, now()).await.unwrap();
        let saved = meta.find_profile("team-a", "work").await.unwrap().unwrap();
        assert_eq!(saved.archive_bytes, Some(1234));
        assert!(meta.delete_profile("p1").await.unwrap());
        assert_eq!(meta.find_profile("team-a", "p1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_claim_whose_session_was_never_stored_lapses_after_the_launch_bound() {
        let dir = tempfile::tempdir().unwrap();
        let meta = meta(&dir).await;
        meta.insert_profile(&profile("p1", "team-a", None))
            .await
            .unwrap();
        assert!(meta.claim_profile("p1", "s1", true, now()).await.unwrap());
        // As if the claim were made longer ago than any launch takes.
        sqlx::query("UPDATE profiles SET in_use_since = in_use_since - $1")
            .bind(UNSTORED_CLAIM_MICROS + 1_000_000)
            .execute(&meta.pool)
            .await
            .unwrap();
        assert!(meta.claim_profile("p1", "s2", true, now()).await.unwrap());
    }
}
